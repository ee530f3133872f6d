"""NumPy stand-ins for libdevice under ``TRITON_INTERPRET=1``.

Triton's interpreter runs a kernel's Python body over NumPy arrays, but the
``libdevice`` functions are bare stubs there (they only name a CUDA/HIP
symbol to link). :func:`install` replaces them, in interpreter mode only, by
the matching NumPy / SciPy ufuncs evaluated in the tensor's own dtype, so the
generated kernels run unchanged on CPU tensors. Only libdevice's own accuracy
(<= 2 ulp per NVIDIA's documentation) is then left untested.
"""

from __future__ import annotations

import numpy as np

_DONE = False
_ORIGINAL: dict = {}


def _ufuncs() -> dict:
    import scipy.special as sc

    return {
        "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
        "log10": np.log10, "exp2": np.exp2, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
        "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "atan": np.arctan, "asin": np.arcsin,
        "acos": np.arccos, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "erf": sc.erf,
        "erfc": sc.erfc, "cbrt": np.cbrt, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
        "rint": np.rint, "pow": np.power, "atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign,
        "fmod": np.fmod, "signbit": lambda a: np.signbit(a).astype(np.int32),
    }


def install() -> None:
    """Patch ``triton.language.extra.libdevice`` for the interpreter (idempotent)."""
    global _DONE
    if _DONE:
        return
    import triton.language as tl
    from triton.language.extra import libdevice
    from triton.runtime.interpreter import TensorHandle

    def wrap(name, fn):
        def shim(*args, _semantic=None, **kwargs):
            like = next(a for a in args if isinstance(a, tl.tensor))
            data = [a.handle.data if isinstance(a, tl.tensor) else np.asarray(a) for a in args]
            with np.errstate(all="ignore"):
                out = np.asarray(fn(*data))
            if name == "signbit":
                return tl.tensor(TensorHandle(out.astype(np.int32), tl.int32), _like_type(like, tl.int32))
            out = out.astype(like.handle.data.dtype, copy=False)
            return tl.tensor(TensorHandle(out, like.handle.dtype.scalar), like.type)

        shim.__name__ = name
        return shim

    for name, fn in _ufuncs().items():
        _ORIGINAL[name] = getattr(libdevice, name)
        setattr(libdevice, name, wrap(name, fn))
    _DONE = True


def uninstall() -> None:
    """Put the real libdevice stubs back (a compiled kernel must see them)."""
    global _DONE
    if not _DONE:
        return
    from triton.language.extra import libdevice

    for name, fn in _ORIGINAL.items():
        setattr(libdevice, name, fn)
    _DONE = False


def ensure(interpreting: bool) -> None:
    if interpreting != _DONE:
        install() if interpreting else uninstall()


def _like_type(t, dtype):
    import triton.language as tl

    if t.type.is_block():
        return tl.block_type(dtype, t.type.get_block_shapes())
    return dtype
