"""actlab: neural-network activation functions, their analysis, and a fair comparison study.

>>> import actlab
>>> act = actlab.get("elu", alpha=0.5)
>>> act.name, act.params
('elu', {'alpha': 0.5})

Importing actlab imports neither torch nor jax: ``actlab.torch`` and
``actlab.jax`` load them when used.
"""

from . import functions as _functions  # noqa: F401 - registers the catalog
from .core import (
    Activation,
    ActivationSpec,
    ActlabError,
    AxisError,
    ConfigError,
    DatasetError,
    FormulaError,
    InputTypeError,
    Kink,
    Param,
    ParameterError,
    Properties,
    StoreError,
    UnknownActivationError,
    catalog,
    get,
    names,
    register,
    spec,
    unregister,
)
from .core.registry import families_list as families
from .functions.formula import NumericalWarning, define

__version__ = "0.1.0"

__all__ = [
    "Activation", "ActivationSpec", "ActlabError", "AxisError", "ConfigError", "DatasetError",
    "FormulaError", "InputTypeError", "Kink", "Param", "ParameterError", "Properties",
    "StoreError", "UnknownActivationError",
    "NumericalWarning", "catalog", "define", "families",
    "get", "names", "register", "spec", "unregister", "__version__",
]
