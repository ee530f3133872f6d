"""Blocked, multi-threaded evaluation of elementwise functions on large NumPy arrays.

A catalog forward written against ``ops`` is a chain of whole-array NumPy calls: a composite
such as ``x * sigmoid(x)`` streams the input and several full-size temporaries through main
memory. :func:`evaluate` runs the same function on cache-sized blocks instead (so the
temporaries stay in L2) and on several blocks at once (NumPy's ufunc loops release the GIL),
writing each block's result straight into the output. The result is bit-for-bit the plain
evaluation's: elementwise functions do not care how the array is cut.

>>> import numpy as np, actlab
>>> from actlab.core import blocked
>>> x = np.linspace(-5, 5, 1_000_000)
>>> silu = actlab.spec("silu")
>>> ops = actlab.core.namespace(x)
>>> y = blocked.evaluate(lambda b: silu.forward(b, ops), x)
>>> bool(np.array_equal(y, silu.forward(x, ops)))
True

``apply(fn, x, ops, params)`` is the hook for ``Activation``: blocked for NumPy arrays of at
least :data:`MIN_SIZE` elements, the plain call otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

#: Elements per block: 16384 float64 (128 KiB) keeps an input block, its output and a few
#: temporaries inside a 512 KiB-1 MiB L2 cache.
BLOCK = 16384
#: Arrays smaller than this are evaluated in one call (the blocking overhead would dominate).
MIN_SIZE = 1 << 17

_STATE: dict[str, Any] = {"threads": None, "pool": None, "pool_size": 0, "enabled": True}
_LOCK = threading.Lock()


def default_threads() -> int:
    env = os.environ.get("ACTLAB_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 16))


def set_threads(n: int | None) -> None:
    """Threads used by :func:`evaluate` (None: the default, ``ACTLAB_NUM_THREADS`` or the CPUs)."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads: n must be a positive int or None, got {n!r}")
    _STATE["threads"] = n


def get_threads() -> int:
    return _STATE["threads"] or default_threads()


def set_enabled(enabled: bool) -> None:
    """Turn blocked evaluation in :func:`apply` on or off (on by default)."""
    _STATE["enabled"] = bool(enabled)


def _pool(n: int) -> Any:
    from concurrent.futures import ThreadPoolExecutor  # imported on first use: keeps `import actlab` lean

    with _LOCK:
        if _STATE["pool"] is None or _STATE["pool_size"] != n:
            if _STATE["pool"] is not None:
                _STATE["pool"].shutdown(wait=False)
            _STATE["pool"] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="actlab-blocked")
            _STATE["pool_size"] = n
        return _STATE["pool"]


def evaluate(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, block: int = BLOCK,
             threads: int | None = None) -> np.ndarray:
    """``fn(x)`` for an elementwise ``fn``, evaluated block by block on ``threads`` threads.

    ``fn`` must be elementwise (each output element depends on the same input element only)
    and return an array of the block's shape. The caller's NumPy error state (``np.errstate``)
    applies in every worker thread.
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.size <= block:
        return fn(x)
    flat = x.reshape(-1)  # a view when x is contiguous, else one copy
    n = flat.size
    first = fn(flat[:block])
    out = np.empty(n, dtype=first.dtype)
    out[:block] = first
    nt = max(1, min(threads or get_threads(), (n - block) // block))
    err = np.geterr()

    def run(lo: int, hi: int) -> None:  # one contiguous share per thread, block by block
        with np.errstate(**err):
            for b in range(lo, hi, block):
                e = min(b + block, hi)
                out[b:e] = fn(flat[b:e])

    # shares are whole blocks, so that every call but the last sees a full block
    nblocks = -(-(n - block) // block)
    bounds = [block + (nblocks * t // nt) * block for t in range(nt)] + [n]
    if nt == 1:
        run(bounds[0], n)
    else:
        futures = [_pool(nt).submit(run, bounds[t], bounds[t + 1]) for t in range(1, nt)]
        run(bounds[0], bounds[1])
        for f in futures:
            f.result()
    return out.reshape(x.shape)


def apply(forward: Callable[..., Any], x: Any, ops: Any, params: dict[str, Any]) -> Any:
    """``forward(x, ops, **params)``: blocked for large NumPy arrays, else the plain call."""
    if (_STATE["enabled"] and getattr(ops, "name", "") == "numpy" and isinstance(x, np.ndarray)
            and x.size >= MIN_SIZE):
        return evaluate(lambda b: forward(b, ops, **params), x)
    return forward(x, ops, **params)
