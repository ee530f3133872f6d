"""The static gallery: one offline HTML page with every activation.

``build("site/")`` writes ``site/index.html``, ``site/plots/<name>.svg`` (f and f')
and ``site/formulas/<name>.svg`` / ``<name>-d.svg`` (mathtext-rendered LaTeX,
glyphs as paths). Nothing is loaded from the network: no fonts, scripts or
styles from elsewhere; the small sorting/filtering script and the styles are
inline.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core import Activation, ActlabError
from ..core.registry import catalog, get
from ..core.spec import SMOOTHNESS_NAMES

_YESNO = ("bounded", "monotonic", "zero_centred", "learnable", "smooth")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", name.lower())


def _num(v: float) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(v, float) and math.isnan(v):
        return "–"
    return f"{v:.6g}".replace("-", "−")


def _sort_num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v)) if math.isfinite(v) else ("1e308" if v > 0 else "-1e308")


def _init_gain() -> Callable[[Activation], float | None]:
    try:
        from ..analysis import init_gain  # lazy: the analysis layer is optional here
    except Exception:  # noqa: BLE001 - missing or broken analysis: the gallery shows "–"
        return lambda act: None

    def gain(act: Activation) -> float | None:
        try:
            return float(init_gain(act))
        except Exception:  # noqa: BLE001 - e.g. vector-valued entries have no gain
            return None

    return gain


def formulas(act: Activation) -> tuple[str, str | None, Any, Any]:
    """(LaTeX of f, LaTeX of f' or None, sympy f or None, sympy f' or None); f' as sympy differentiates it."""
    import sympy

    from ..functions.formula import formula_info

    info = formula_info(act)
    if info is not None:
        return info.latex, info.derivative_latex, info.expr, info.derivative_expr
    if not act.is_elementwise:
        return act.formula, None, None, None
    e = act.spec.sympy()
    d = sympy.diff(e, sympy.Symbol("x", real=True))
    return f"f(x) = {sympy.latex(e)}", f"f'(x) = {sympy.latex(d)}", e, d


def _row(act: Activation, gain: float | None) -> dict[str, Any]:
    p = act.properties
    return {
        "name": act.name,
        "family": act.family,
        "kind": act.spec.kind,
        "description": act.spec.description,
        "aliases": list(act.spec.aliases),
        "range": list(p.range),
        "bounded": p.bounded,
        "monotonic": p.monotonic,
        "smoothness": SMOOTHNESS_NAMES[p.smoothness],
        "smooth_rank": p.smoothness,
        "smooth": p.smoothness == 3,
        "zero_centred": p.zero_centred,
        "learnable": act.spec.learnable,
        "params": {k: v for k, v in act.params.items()},
        "kinks": [k.at for k in p.kinks],
        "init_gain": gain,
        "paper": act.spec.paper,
        "year": act.spec.year,
    }


def build(
    output_dir: str | Path,
    names: Iterable[str] | None = None,
    *,
    x_range: tuple[float, float] = (-5, 5),
    title: str = "actlab: activation functions",
    progress: Callable[[str], None] | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> Path:
    """Write the gallery into ``output_dir`` (created if needed); returns the path of ``index.html``.

    An entry that cannot be plotted or differentiated symbolically still gets its card, which says
    why; ``on_problem`` (default: ``warnings.warn``) hears about it too.
    """
    from . import curves, formula_svg, mathtext

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ActlabError(f"cannot write the gallery into {str(out)!r}: it is a file")
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "formulas").mkdir(parents=True, exist_ok=True)
    acts = [get(n) for n in names] if names is not None else catalog()
    if not acts:
        raise ActlabError("no activations to show")
    gain_of = _init_gain()
    rows, cards = [], []
    for act in acts:
        if progress:
            progress(act.name)
        slug = _slug(act.name)
        problems: list[str] = []
        plot_ok = True
        try:
            fig = curves(
                act, derivative=act.is_elementwise, x_range=x_range, points=401, figsize=(4.6, 3.2), title=""
            )
            fig.savefig(out / "plots" / f"{slug}.svg", format="svg", metadata={"Date": None})
        except Exception as e:  # noqa: BLE001 - one entry must not sink the page; the card says why
            plot_ok = False
            problems.append(f"no plot: {_first_line(e)}")
        try:
            f_tex, d_tex, f_expr, d_expr = formulas(act)
        except Exception as e:  # noqa: BLE001
            f_tex, d_tex, f_expr, d_expr = act.spec.latex or act.spec.description, None, None, None
            problems.append(f"no symbolic formula: {_first_line(e)}")
        f_img = _formula_image(f_tex, f_expr, "f(x)", out / "formulas" / f"{slug}.svg", formula_svg, mathtext)
        d_img = (
            _formula_image(d_tex, d_expr, "f'(x)", out / "formulas" / f"{slug}-d.svg", formula_svg, mathtext)
            if d_tex
            else None
        )
        gain = gain_of(act)
        row = _row(act, gain)
        rows.append(row)
        for problem in problems:
            (on_problem or _warn)(f"{act.name}: {problem}")
        cards.append(_card(act, row, slug, f_tex, d_tex, f_img, d_img, plot_ok, problems))
    page = _page(title, rows, cards)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    (out / "activations.json").write_text(json.dumps(rows, indent=1, default=_json_default), encoding="utf-8")
    return index


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, UserWarning, stacklevel=3)


def _json_default(v: Any) -> Any:
    return str(v)


def _formula_image(
    tex: str, expr: Any, lhs: str, path: Path, render: Callable, to_mathtext: Callable
) -> str | None:
    """Render the formula; first as mathtext from sympy (no ``cases``), else the LaTeX as given."""
    candidates = []
    if expr is not None:
        with contextlib.suppress(Exception):  # the LaTeX as given is the fallback
            candidates.append(f"{lhs} = {to_mathtext(expr)}")
    candidates.append(tex)
    for c in candidates:
        if len(c) > 1500:  # a formula too long to read as an image: the LaTeX source is shown instead
            continue
        if render(c, path) is not None:
            return f"formulas/{path.name}"
    return None


def _yn(v: bool) -> str:
    return "yes" if v else "no"


def _card(
    act: Activation,
    row: dict[str, Any],
    slug: str,
    f_tex: str,
    d_tex: str | None,
    f_img: str | None,
    d_img: str | None,
    plot_ok: bool = True,
    problems: list[str] | None = None,
) -> str:
    e = html.escape
    s = act.spec
    parts = [
        f'<article class="card" id="act-{slug}">',
        f'<h2><a href="#act-{slug}">{e(act.name)}</a> <span class="fam">{e(act.family)}</span></h2>',
        f'<p class="desc">{e(s.description)}</p>',
    ]
    if s.aliases:
        parts.append(f'<p class="aliases">also: {", ".join(e(a) for a in s.aliases)}</p>')
    parts.append('<div class="figs">')
    alt = f"{act.name}: the function (solid)" + (" and its derivative (dashed)" if act.is_elementwise else "")
    if plot_ok:
        parts.append(f'<img class="plot" src="plots/{slug}.svg" alt="{e(alt)}" width="331" height="230">')
    for problem in problems or []:
        parts.append(f'<p class="note">{e(problem)}</p>')
    parts.append('<div class="formulas">')
    for img, tex, what in ((f_img, f_tex, "formula"), (d_img, d_tex, "derivative")):
        if tex is None:
            continue
        if img:
            parts.append(f'<img class="formula" src="{img}" alt="{e(what)}: {e(tex)}">')
        else:
            parts.append(f'<pre class="tex">{e(tex)}</pre>')
    if not act.is_elementwise:
        parts.append(
            '<p class="note">Vector-valued: the plot shows the first output for the input (x, 0).</p>'
        )
    tex_src = e(f_tex) + ("\n" + e(d_tex) if d_tex else "")
    parts.append(f"<details><summary>LaTeX source</summary><pre>{tex_src}</pre></details>")
    parts.append("</div></div>")
    dl = ['<dl class="props">']
    p = s.properties
    dl.append(f"<dt>range</dt><dd>({_num(p.range[0])}, {_num(p.range[1])})</dd>")
    dl.append(f"<dt>monotonic</dt><dd>{_yn(p.monotonic)}</dd>")
    dl.append(f"<dt>smoothness</dt><dd>{e(SMOOTHNESS_NAMES[p.smoothness])}</dd>")
    dl.append(f"<dt>zero-centred</dt><dd>{_yn(p.zero_centred)}</dd>")
    if p.kinks:
        ks = ", ".join(f"x = {_num(k.at)} (f' = {_num(k.grad)})" for k in p.kinks)
        dl.append(f"<dt>kinks</dt><dd>{e(ks)}</dd>")
    dl.append(f"<dt>init gain</dt><dd>{_num(row['init_gain'])}</dd>")
    dl.append("</dl>")
    parts += dl
    if s.params:
        parts.append(
            '<table class="params"><thead><tr><th>parameter</th><th>default</th><th>valid</th>'
            "<th>learnable</th><th>meaning</th></tr></thead><tbody>"
        )
        for prm in s.params:
            parts.append(
                f"<tr><td>{e(prm.name)}</td><td>{_num(prm.default)}</td><td>{e(prm.interval)}</td>"
                f"<td>{_yn(prm.learnable)}</td><td>{e(prm.doc)}</td></tr>"
            )
        parts.append("</tbody></table>")
    if s.paper:
        year = f" ({s.year})" if s.year else ""
        parts.append(f'<p class="paper">Reference: {e(s.paper)}{year}</p>')
    if s.notes:
        parts.append(f'<p class="notes">{e(s.notes)}</p>')
    parts.append("</article>")
    return "\n".join(parts)


_CSS = """
:root { --fg: #1d2330; --muted: #5b6472; --line: #dde1e7; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 4rem; }
h1 { margin: .5rem 0 .2rem; } header p { color: var(--muted); margin: 0 0 1rem; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.controls input[type=search] { flex: 1 1 16rem; padding: .35rem .5rem; }
.controls select { padding: .3rem; }
#count { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
#props th, #props td { border-bottom: 1px solid var(--line); padding: .25rem .45rem; text-align: left;
                       white-space: nowrap; }
#props th { cursor: pointer; user-select: none; position: sticky; top: 0; background: #f6f7f9; }
#props th[aria-sort=ascending]::after { content: " ▲"; }
#props th[aria-sort=descending]::after { content: " ▼"; }
#props tr.hidden { display: none; }
.card { border-top: 1px solid var(--line); padding: 1rem 0; }
.card h2 { margin: 0 0 .2rem; font-size: 1.25rem; } .card h2 a { color: inherit; text-decoration: none; }
.fam { font-size: .8rem; color: var(--muted); font-weight: normal; border: 1px solid var(--line);
       border-radius: 1rem; padding: 0 .5rem; margin-left: .4rem; }
.desc { margin: .2rem 0; } .aliases, .notes, .note { color: var(--muted); font-size: .9rem; }
.figs { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.formulas { flex: 1 1 20rem; min-width: 0; } img.formula { display: block; max-width: 100%; margin: .3rem 0; }
pre { white-space: pre-wrap; word-break: break-word; font-size: .8rem; background: #f6f7f9; padding: .4rem; }
dl.props { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .5rem 0; }
dl.props dt { color: var(--muted); } dl.props dd { margin: 0; }
table.params td, table.params th { border-bottom: 1px solid var(--line); padding: .2rem .4rem;
                                   text-align: left; }
.paper { font-style: italic; }
"""

_JS = """
(function () {
  "use strict";
  var table = document.getElementById("props");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var q = document.getElementById("q"), fam = document.getElementById("family");
  var yesno = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var count = document.getElementById("count");
  function apply() {
    var text = q.value.trim().toLowerCase(), f = fam.value, shown = 0;
    rows.forEach(function (r) {
      var ok = (!text || r.getAttribute("data-search").indexOf(text) >= 0) &&
               (!f || r.getAttribute("data-family") === f);
      yesno.forEach(function (s) {
        if (s.value && r.getAttribute("data-" + s.getAttribute("data-filter")) !== s.value) { ok = false; }
      });
      r.classList.toggle("hidden", !ok);
      var card = document.getElementById(r.getAttribute("data-card"));
      if (card) { card.hidden = !ok; }
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " shown";
  }
  function sortBy(th) {
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = a.cells[idx].getAttribute("data-value"), y = b.cells[idx].getAttribute("data-value");
      if (numeric) {
        var fx = x === "" ? NaN : parseFloat(x), fy = y === "" ? NaN : parseFloat(y);
        if (isNaN(fx) && isNaN(fy)) { return 0; }
        if (isNaN(fx)) { return 1; }
        if (isNaN(fy)) { return -1; }
        return dir * (fx - fy);
      }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.tabIndex = 0;
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { sortBy(th); } });
  });
  [q, fam].concat(yesno).forEach(function (el) { el.addEventListener("input", apply); });
  apply();
  window.addEventListener("load", function () {
    var ok = 0, bad = [];
    Array.prototype.forEach.call(document.images, function (img) {
      if (img.complete && img.naturalWidth > 0) { ok += 1; } else { bad.push(img.getAttribute("src")); }
    });
    document.documentElement.setAttribute("data-images-ok", String(ok));
    document.documentElement.setAttribute("data-images-failed", bad.join(" "));
  });
}());
"""

_COLUMNS = [  # header, key, type
    ("name", "name", "text"),
    ("family", "family", "text"),
    ("min f", "lo", "num"),
    ("max f", "hi", "num"),
    ("monotonic", "monotonic", "text"),
    ("smoothness", "smooth_rank", "num"),
    ("zero-centred", "zero_centred", "text"),
    ("learnable", "learnable", "text"),
    ("kinks", "kinks", "num"),
    ("init gain", "init_gain", "num"),
    ("year", "year", "num"),
]


def _table_row(row: dict[str, Any], slug: str) -> str:
    e = html.escape
    search = " ".join([row["name"], row["family"], row["description"], *row["aliases"]]).lower()
    attrs = {
        "data-card": f"act-{slug}",
        "data-family": row["family"],
        "data-search": search,
        **{f"data-{k}": _yn(row[k]) for k in _YESNO},
    }
    cells = []
    lo, hi = row["range"]
    for _, key, _typ in _COLUMNS:
        if key == "name":
            cells.append(f'<td data-value="{e(row["name"])}"><a href="#act-{slug}">{e(row["name"])}</a></td>')
        elif key == "family":
            cells.append(f'<td data-value="{e(row["family"])}">{e(row["family"])}</td>')
        elif key in ("lo", "hi"):
            v = lo if key == "lo" else hi
            cells.append(f'<td data-value="{_sort_num(v)}">{_num(v)}</td>')
        elif key == "smooth_rank":
            cells.append(f'<td data-value="{row["smooth_rank"]}">{e(row["smoothness"])}</td>')
        elif key in ("monotonic", "zero_centred", "learnable"):
            cells.append(f'<td data-value="{_yn(row[key])}">{_yn(row[key])}</td>')
        elif key == "kinks":
            n = len(row["kinks"])
            cells.append(f'<td data-value="{n}">{n}</td>')
        elif key == "init_gain":
            g = row["init_gain"]
            cells.append(f'<td data-value="{_sort_num(g)}">{_num(g)}</td>')
        elif key == "year":
            y = row["year"]
            cells.append(f'<td data-value="{y if y else ""}">{y if y else "–"}</td>')
    attr = " ".join(f'{k}="{e(str(v))}"' for k, v in attrs.items())
    return f"<tr {attr}>{''.join(cells)}</tr>"


def _page(title: str, rows: list[dict[str, Any]], cards: list[str]) -> str:
    from .. import __version__

    e = html.escape
    families = sorted({r["family"] for r in rows})
    head = "".join(f'<th data-type="{typ}" scope="col">{e(h)}</th>' for h, _, typ in _COLUMNS)
    body = "\n".join(_table_row(r, _slug(r["name"])) for r in rows)
    fam_opts = "".join(f'<option value="{e(f)}">{e(f)}</option>' for f in families)
    yn = "".join(
        f'<select data-filter="{k}" aria-label="{lab}"><option value="">{lab}: any</option>'
        f'<option value="yes">{lab}: yes</option><option value="no">{lab}: no</option></select>'
        for k, lab in ((k, k.replace("_", "-")) for k in _YESNO)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="actlab {e(__version__)}">
<title>{e(title)}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{e(title)}</h1>
<p>{len(rows)} activations: each with its curve and derivative, its formula, its properties and its paper.
Made by actlab {e(__version__)}; this page works offline. Click a column to sort; filter below.</p>
</header>
<section aria-label="properties">
<div class="controls">
<input id="q" type="search" placeholder="filter: name, family, description" aria-label="filter">
<select id="family" aria-label="family"><option value="">all families</option>{fam_opts}</select>
{yn}
<span id="count"></span>
</div>
<table id="props">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</section>
<section aria-label="activations">
{chr(10).join(cards)}
</section>
<script>{_JS}</script>
</body>
</html>
"""
