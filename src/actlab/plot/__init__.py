"""Figures of activations: function and derivative curves, formulas as SVG, the HTML gallery.

>>> import actlab.plot as ap
>>> fig = ap.curves(["relu", "tanh", "elu:alpha=0.5"], derivative=True, x_range=(-4, 4))
>>> path = ap.save(fig, "/tmp/actlab-doc-curves.png")

matplotlib is imported on first use, and only its object-oriented API (a
``Figure`` drawn by the Agg canvas): nothing here touches pyplot's global state
or the user's backend. Pass ``ax=`` to draw into an existing axes instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core import Activation, ActivationSpec, ActlabError, ParameterError
from ..core.registry import get

__all__ = [
    "FORMATS",
    "activation_label",
    "curve_data",
    "curves",
    "formula_svg",
    "gallery",
    "mathtext",
    "parse_ref",
    "resolve",
    "save",
]

FORMATS = ("png", "svg", "pdf")
# Colour-blind-safe Okabe-Ito palette: distinct hues, so a pixel check can tell curves apart.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


def parse_ref(text: str) -> tuple[str, dict[str, float]]:
    """``"elu:alpha=0.5"`` -> ``("elu", {"alpha": 0.5})``; params separated by ``,`` or ``:``."""
    if not isinstance(text, str) or not text.strip():
        raise ActlabError(f"expected an activation name such as 'relu' or 'elu:alpha=0.5', got {text!r}")
    name, _, rest = text.strip().partition(":")
    params: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in re.split(r"[,:]", rest))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ParameterError(f"{name}: expected param=value after ':', got {part!r} (e.g. elu:alpha=0.5)")
        try:
            params[key] = float(value)
        except ValueError:
            raise ParameterError(
                f"{name}: parameter {key!r} must be a number, got {value.strip()!r}"
            ) from None
    return name.strip(), params


def resolve(ref: Any) -> Activation:
    """An ``Activation`` from an Activation, a spec, ``"name"``, ``"name:param=value,..."``
    or ``(name, params)``."""
    if isinstance(ref, Activation):
        return ref
    if isinstance(ref, ActivationSpec):
        return Activation(ref)
    if isinstance(ref, tuple) and len(ref) == 2:
        return get(ref[0], **dict(ref[1]))
    if isinstance(ref, str):
        name, params = parse_ref(ref)
        return get(name, **params)
    raise TypeError(f"expected an activation, a name or 'name:param=value', got {type(ref).__name__}")


def activation_label(act: Activation) -> str:
    """``name`` plus the parameters that differ from the defaults: ``elu(alpha=0.5)``.

    A formula-defined activation without a name of its own is labelled by its formula.
    """
    from ..functions.formula import formula_info

    info = formula_info(act)
    if info is not None and act.name.startswith("formula_"):
        params = "".join(f", {k}={v:g}" for k, v in act.params.items())
        return info.formula.strip() + (f" ({params[2:]})" if params else "")
    changed = {k: v for k, v in act.params.items() if v != act.spec.defaults.get(k)}
    if not changed:
        return act.name
    return f"{act.name}({', '.join(f'{k}={v:g}' for k, v in changed.items())})"


def curve_data(act: Activation, x: np.ndarray, derivative: bool = False) -> np.ndarray:
    """f(x) (or f'(x)) in float64. Vector-valued entries: the first output for the input (x, 0)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        if act.is_elementwise:
            y = act.derivative(x) if derivative else act(x)
            return np.asarray(y, dtype=np.float64) * np.ones_like(x)
        xin = np.stack([x, np.zeros_like(x)], axis=-1)
        y = np.asarray(act(xin, axis=-1), dtype=np.float64)
        if not derivative:
            return y[..., 0]
        g = np.zeros_like(y)
        g[..., 0] = 1.0
        return np.asarray(act.vjp(xin, g, axis=-1), dtype=np.float64)[..., 0]


def curves(
    activations: Any,
    *,
    derivative: bool = False,
    x_range: Sequence[float] = (-5.0, 5.0),
    points: int = 1001,
    ax: Any = None,
    title: str | None = None,
    legend: bool = True,
    figsize: tuple[float, float] = (6.4, 4.2),
    dpi: float = 100,
) -> Any:
    """One figure with each activation's curve (solid) and, with ``derivative``, f' (dashed, same colour).

    ``activations``: one or several of Activation / spec / ``"name"`` / ``"name:param=value"``.
    Each line carries ``gid`` ``"<label>|f"`` or ``"<label>|df"`` so that its data can be read back.
    Vector-valued entries are drawn as their first output for the input (x, 0).
    Returns the matplotlib ``Figure``.
    """
    acts = [
        resolve(a)
        for a in (
            [activations] if isinstance(activations, (str, Activation, ActivationSpec)) else list(activations)
        )
    ]
    if not acts:
        raise ActlabError("nothing to plot: give at least one activation")
    lo, hi = _check_range(x_range)
    if not isinstance(points, int) or points < 2:
        raise ActlabError(f"points must be an integer >= 2, got {points!r}")
    x = np.linspace(lo, hi, points)
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    for i, act in enumerate(acts):
        colour = PALETTE[i % len(PALETTE)]
        label = activation_label(act)
        suffix = "" if act.is_elementwise else " (first output at (x, 0))"
        y = _finite(curve_data(act, x))
        ax.plot(x, y, color=colour, linewidth=2.2, label=label + suffix, gid=f"{label}|f")
        if derivative:
            dy = _finite(curve_data(act, x, derivative=True))
            ax.plot(
                x,
                dy,
                color=colour,
                linewidth=1.8,
                linestyle=(0, (5, 3)),
                label=f"{label}'",
                gid=f"{label}|df",
            )
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x) and f'(x) (dashed)" if derivative else "f(x)")
    ax.grid(True, color="#eeeeee", linewidth=0.8)
    if title is None:
        title = ", ".join(activation_label(a) for a in acts[:4]) + (" …" if len(acts) > 4 else "")
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(loc="best", frameon=False)
    return fig


def _finite(y: np.ndarray) -> np.ndarray:
    y = np.array(y, dtype=np.float64)
    y[~np.isfinite(y)] = np.nan
    return y


def _check_range(x_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise ActlabError(f"range must be two numbers LO HI, got {x_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ActlabError(f"range must be two finite numbers with LO < HI, got {lo:g} {hi:g}")
    return lo, hi


def save(fig: Any, path: str | Path, *, dpi: float | None = None) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (by the file's suffix); returns the path."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ActlabError(
            f"cannot write {str(path)!r}: the suffix must be one of {', '.join('.' + f for f in FORMATS)}"
        )
    if path.parent and not path.parent.exists():
        raise ActlabError(f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    kwargs: dict[str, Any] = {"format": fmt}
    if dpi is not None:
        kwargs["dpi"] = dpi
    if fmt == "svg":
        kwargs["metadata"] = {"Date": None}  # reproducible files
    fig.savefig(path, **kwargs)
    return path


# --- formulas -------------------------------------------------------------------------------------


def mathtext(expr: Any) -> str:
    """LaTeX for a sympy expression in the subset matplotlib's mathtext renders (no ``cases``)."""
    from sympy.printing.latex import LatexPrinter

    class _Printer(LatexPrinter):
        def _print_Piecewise(self, e: Any) -> str:  # noqa: N802 - sympy's printer protocol
            parts = []
            for value, cond in e.args:
                v = self._print(value)
                if cond is True or getattr(cond, "is_Boolean", False) and bool(cond == True):  # noqa: E712
                    parts.append(rf"{v}\ \ \mathrm{{otherwise}}")
                else:
                    parts.append(rf"{v}\ \ \mathrm{{if}}\ {self._print(cond)}")
            return r"\left\{" + r";\quad ".join(parts) + r"\right."

        def _print_Heaviside(self, e: Any, exp: Any = None) -> str:  # noqa: N802
            s = rf"H\left({self._print(e.args[0])}\right)"
            return f"{s}^{{{exp}}}" if exp else s

    return _Printer({"mul_symbol": None}).doprint(expr)


def formula_svg(latex: str, path: str | Path, *, fontsize: float = 13) -> Path | None:
    """Render ``latex`` with matplotlib's mathtext to an SVG file (glyphs as paths: no fonts to load).

    Returns the path, or None where mathtext cannot render that LaTeX.
    """
    import io
    import warnings

    from matplotlib import mathtext as mt
    from matplotlib.font_manager import FontProperties

    text = latex.strip()
    if not text.startswith("$"):
        text = f"${text}$"
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mt.math_to_image(text, buf, prop=FontProperties(size=fontsize), format="svg")
    except Exception:  # noqa: BLE001 - mathtext raises ValueError and friends on unsupported LaTeX
        return None
    data = re.sub(rb"<dc:date>.*?</dc:date>", b"", buf.getvalue(), flags=re.S)
    path = Path(path)
    path.write_bytes(data)
    return path


def gallery(output_dir: str | Path, names: Iterable[str] | None = None, **kwargs: Any) -> Path:
    """Write the static HTML gallery; see :func:`actlab.plot._site.build`."""
    from ._site import build

    return build(output_dir, names=names, **kwargs)
