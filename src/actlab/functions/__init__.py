"""The catalog: one module per family. Importing this package registers every entry."""

from . import (  # noqa: F401 - imported for their registrations
    adaptive,
    exponential,
    gated,
    linear,
    periodic,
    rectified,
    sigmoidal,
    smooth,
    step,
    vector,
)
