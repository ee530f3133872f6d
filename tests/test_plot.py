"""actlab.plot: curves read back from the figure, pixel checks on the PNG, files in every format."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import actlab  # noqa: E402
import actlab.plot as ap  # noqa: E402
from actlab import ActlabError  # noqa: E402


def _lines(fig):
    return {ln.get_gid(): ln for ln in fig.axes[0].get_lines() if ln.get_gid()}


def test_curves_hold_the_functions_and_derivatives():
    refs = ["relu", "tanh", "elu:alpha=0.5", ("leaky_relu", {"negative_slope": 0.2})]
    fig = ap.curves(refs, derivative=True, x_range=(-4, 4), points=801)
    lines = _lines(fig)
    assert set(lines) == {
        "relu|f",
        "relu|df",
        "tanh|f",
        "tanh|df",
        "elu(alpha=0.5)|f",
        "elu(alpha=0.5)|df",
        "leaky_relu(negative_slope=0.2)|f",
        "leaky_relu(negative_slope=0.2)|df",
    }
    for label, act in [
        ("relu", actlab.get("relu")),
        ("tanh", actlab.get("tanh")),
        ("elu(alpha=0.5)", actlab.get("elu", alpha=0.5)),
        ("leaky_relu(negative_slope=0.2)", actlab.get("leaky_relu", negative_slope=0.2)),
    ]:
        f, df = lines[f"{label}|f"], lines[f"{label}|df"]
        x = np.asarray(f.get_xdata())
        assert x[0] == -4 and x[-1] == 4 and x.size == 801
        np.testing.assert_allclose(f.get_ydata(), act(x), rtol=0, atol=0)
        np.testing.assert_allclose(df.get_ydata(), act.derivative(x), rtol=0, atol=0)
        assert f.get_color() == df.get_color()  # one colour per activation
        assert f.get_linestyle() == "-" and df.get_linestyle() != "-"
    colours = {lines[f"{n}|f"].get_color() for n in ("relu", "tanh", "elu(alpha=0.5)")}
    assert len(colours) == 3
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "relu" in labels and "relu'" in labels and "elu(alpha=0.5)" in labels


def test_single_name_without_derivative():
    fig = ap.curves("sigmoid")
    lines = _lines(fig)
    assert list(lines) == ["sigmoid|f"]
    x = lines["sigmoid|f"].get_xdata()
    assert (x[0], x[-1]) == (-5.0, 5.0)
    assert fig.axes[0].get_title() == "sigmoid"


def test_vector_valued_entries_show_their_first_output():
    fig = ap.curves(["softmax"], derivative=True, x_range=(-6, 6))
    lines = _lines(fig)
    x = lines["softmax|f"].get_xdata()
    sig = actlab.get("sigmoid")
    np.testing.assert_allclose(lines["softmax|f"].get_ydata(), sig(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lines["softmax|df"].get_ydata(), sig.derivative(x), rtol=1e-9, atol=1e-12)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float) / 255.0


def _colour_near(
    img: np.ndarray, px: float, py: float, colour: np.ndarray, radius: int = 3, tol: float = 0.12
):
    """Is ``colour`` within ``radius`` pixels of display point (px, py) (origin bottom-left)?"""
    h = img.shape[0]
    row, col = int(round(h - py)), int(round(px))
    patch = img[max(0, row - radius) : row + radius + 1, max(0, col - radius) : col + radius + 1, :3]
    return bool((np.abs(patch - colour).max(axis=-1) < tol).any())


def test_png_pixels_show_each_curve_where_expected(tmp_path):
    import matplotlib.image as mpimg

    fig = ap.curves(["relu", "tanh"], derivative=True, x_range=(-4, 4), legend=False, title="")
    path = ap.save(fig, tmp_path / "curves.png")
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[:2] == (round(fig.get_figheight() * fig.dpi), round(fig.get_figwidth() * fig.dpi))
    ax = fig.axes[0]
    lines = _lines(fig)
    blue, orange = _rgb(lines["relu|f"].get_color()), _rgb(lines["tanh|f"].get_color())
    to_px = ax.transData.transform

    def present(colour, x, y):
        return _colour_near(img, *to_px((x, y)), colour)

    # relu: on the diagonal for x > 0, on the axis for x < 0; never at (3, -3) or (-3, 3)
    assert all(present(blue, x, x) for x in (1.0, 2.0, 3.0, 3.8))
    assert present(blue, -3.0, 0.0)
    assert not present(blue, 3.0, -1.0) and not present(blue, -3.0, 2.5)
    # tanh: its S-curve; tanh(2) = 0.964
    assert all(present(orange, x, float(np.tanh(x))) for x in (-3.0, -1.0, 0.5, 2.0))
    assert not present(orange, 2.0, -0.9)
    # derivatives, dashed: most sample points along the curve carry the colour
    xs = np.linspace(-3.5, 3.5, 29)
    d_tanh = [present(orange, x, 1 - np.tanh(x) ** 2) for x in xs]
    assert sum(d_tanh) >= 0.6 * len(xs)
    d_relu = [present(blue, x, 1.0) for x in xs[(xs > 0.3) & (xs < 1.5)]]  # beyond, tanh covers y = 1
    assert sum(d_relu) >= 0.6 * len(d_relu)


@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_save_formats(tmp_path, suffix, magic):
    fig = ap.curves(["gelu", "silu"], derivative=True)
    path = ap.save(fig, tmp_path / f"out.{suffix}")
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 1000
    if suffix == "svg":
        import re

        assert b"<svg" in data
        assert not re.search(rb"""(href|src)\s*=\s*["'](https?:|//)""", data)  # nothing to fetch


def test_save_errors(tmp_path):
    fig = ap.curves("relu")
    with pytest.raises(ActlabError, match=".png, .svg, .pdf"):
        ap.save(fig, tmp_path / "out.gif")
    with pytest.raises(ActlabError, match="does not exist"):
        ap.save(fig, tmp_path / "missing" / "out.png")


def test_input_errors():
    with pytest.raises(actlab.UnknownActivationError, match="did you mean"):
        ap.curves("rleu")
    with pytest.raises(actlab.ParameterError, match="alpha"):
        ap.curves("relu:alpha=1")
    with pytest.raises(actlab.ParameterError, match="number"):
        ap.curves("elu:alpha=big")
    with pytest.raises(actlab.ParameterError, match="param=value"):
        ap.curves("elu:alpha")
    with pytest.raises(ActlabError, match="LO < HI"):
        ap.curves("relu", x_range=(1, -1))
    with pytest.raises(ActlabError, match="two numbers"):
        ap.curves("relu", x_range=(1,))
    with pytest.raises(ActlabError, match="nothing to plot"):
        ap.curves([])


def test_parse_ref():
    assert ap.parse_ref("elu") == ("elu", {})
    assert ap.parse_ref(" hardtanh:min_val=-2,max_val=2 ") == ("hardtanh", {"min_val": -2.0, "max_val": 2.0})
    assert ap.parse_ref("hardtanh:min_val=-2:max_val=3") == ("hardtanh", {"min_val": -2.0, "max_val": 3.0})
    assert ap.resolve("swish").name == "silu"


def test_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    out = ap.curves(["relu"], ax=ax, derivative=True)
    assert out is fig and len([ln for ln in ax.get_lines() if ln.get_gid()]) == 2


def test_pyplot_is_not_touched():
    code = "import actlab.plot as ap, sys; ap.curves(['relu']); print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_formula_rendering(tmp_path):
    import sympy

    x = sympy.Symbol("x", real=True)
    tex = ap.mathtext(sympy.Piecewise((x, x > 0), (x / 10, True)))
    assert "cases" not in tex and "otherwise" in tex
    assert ap.formula_svg("f(x) = " + tex, tmp_path / "f.svg") is not None
    svg = (tmp_path / "f.svg").read_text()
    assert "<svg" in svg and "<path" in svg and "font-family" not in svg  # glyphs drawn as paths
    assert ap.formula_svg(r"\begin{cases} x \end{cases}", tmp_path / "g.svg") is None
    assert not (tmp_path / "g.svg").exists()
