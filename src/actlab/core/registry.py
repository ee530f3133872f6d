"""The registry: every activation by name and alias."""

from __future__ import annotations

from typing import Any

from .errors import ActlabError, UnknownActivationError
from .spec import Activation, ActivationSpec

_SPECS: dict[str, ActivationSpec] = {}
_ALIASES: dict[str, str] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(spec: ActivationSpec, *, replace: bool = False) -> ActivationSpec:
    """Add ``spec`` under its name and aliases; names are case- and dash-insensitive."""
    keys = [_key(spec.name), *(_key(a) for a in spec.aliases)]
    if not replace:
        taken = [k for k in keys if k in _SPECS or k in _ALIASES]
        if taken:
            raise ActlabError(f"activation name(s) already registered: {', '.join(taken)}")
    else:
        unregister(spec.name, missing_ok=True)
    _SPECS[keys[0]] = spec
    for alias in keys[1:]:
        _ALIASES[alias] = keys[0]
    return spec


def unregister(name: str, missing_ok: bool = False) -> None:
    key = _ALIASES.get(_key(name), _key(name))
    spec = _SPECS.pop(key, None)
    if spec is None:
        if missing_ok:
            return
        raise UnknownActivationError(name, _all_keys())
    for alias in [a for a, target in _ALIASES.items() if target == key]:
        del _ALIASES[alias]


def _all_keys() -> list[str]:
    return [*_SPECS, *_ALIASES]


def spec(name: str) -> ActivationSpec:
    """The registered spec for a name or alias."""
    if isinstance(name, ActivationSpec):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    key = _key(name)
    key = _ALIASES.get(key, key)
    try:
        return _SPECS[key]
    except KeyError:
        raise UnknownActivationError(name, _all_keys()) from None


def get(name: str | Activation, **params: Any) -> Activation:
    """Look an activation up by name or alias and bind its parameters.

    >>> import actlab
    >>> actlab.get("swish").name
    'silu'
    """
    if isinstance(name, Activation):
        return name.with_params(**params) if params else name
    return Activation(spec(name), params)


def names(family: str | None = None, **filters: Any) -> list[str]:
    """Sorted canonical names, filtered as in :func:`catalog`."""
    return [a.name for a in catalog(family, **filters)]


FILTERS = ("kind", "monotonic", "bounded", "bounded_above", "bounded_below", "zero_centred",
           "learnable", "smooth", "piecewise_linear")


def catalog(family: str | None = None, **filters: Any) -> list[Activation]:
    """Every registered activation at its default parameters.

    Filters: ``family`` and any of ``kind`` ("elementwise"/"vector"),
    ``monotonic``, ``bounded``, ``bounded_above``, ``bounded_below``,
    ``zero_centred``, ``learnable``, ``smooth`` (C-infinity),
    ``piecewise_linear``, each True or False.
    """
    bad = sorted(set(filters) - set(FILTERS))
    if bad:
        raise ActlabError(f"unknown catalog filter(s) {bad}; valid filters: family, {', '.join(FILTERS)}")
    families = families_list()
    if family is not None and family not in families:
        raise ActlabError(f"unknown family {family!r}; valid families: {', '.join(families)}")
    out = []
    for key in sorted(_SPECS):
        s = _SPECS[key]
        if family is not None and s.family != family:
            continue
        if all(_attribute(s, k) == v for k, v in filters.items()):
            out.append(Activation(s))
    return out


def families_list() -> list[str]:
    return sorted({s.family for s in _SPECS.values()})


def _attribute(s: ActivationSpec, key: str) -> Any:
    from .spec import SMOOTH

    if key == "kind":
        return s.kind
    if key == "learnable":
        return s.learnable
    if key == "piecewise_linear":
        return s.piecewise_linear
    if key == "smooth":
        return s.properties.smoothness == SMOOTH
    return getattr(s.properties, key)
