import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py


@pytest.fixture(scope="session", autouse=True)
def _jax_x64():
    """float64 comparisons need jax's x64 mode; enable it once for the whole session."""
    try:
        import jax
    except ImportError:
        yield
        return
    jax.config.update("jax_enable_x64", True)
    yield
