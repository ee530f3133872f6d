"""actlab.analysis imports quickly: numpy only, nothing heavy until used."""

import subprocess
import sys


def test_import_loads_no_heavy_module():
    code = (
        "import sys, actlab.analysis as aa; aa.__all__; "
        "heavy = ('torch', 'jax', 'matplotlib', 'sympy', 'scipy', 'mpmath'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
