"""Core: the activation spec, parameters, registry, backends, dtype policy, errors."""

from .backend import namespace, prepare, restore
from .errors import (
    ActlabError,
    AxisError,
    ConfigError,
    DatasetError,
    FormulaError,
    InputTypeError,
    ParameterError,
    StoreError,
    UnknownActivationError,
)
from .params import Param
from .registry import catalog, families_list, get, names, register, spec, unregister
from .spec import C0, C1, C2, DISCONTINUOUS, SMOOTH, Activation, ActivationSpec, Kink, Properties

__all__ = [
    "C0", "C1", "C2", "DISCONTINUOUS", "SMOOTH",
    "Activation", "ActivationSpec", "ActlabError", "AxisError", "ConfigError", "DatasetError",
    "FormulaError", "InputTypeError", "Kink", "Param", "ParameterError", "Properties",
    "StoreError", "UnknownActivationError",
    "catalog", "families_list", "get", "names", "namespace", "prepare", "register", "restore",
    "spec", "unregister",
]
