"""``actlab recommend``: which activation to use where, with the reasons.

The advice follows the project's seed documents (the articles actlab grew
from): sigmoid for a binary output, softmax for a multi-class output, linear
for a regression output, the ReLU family in hidden layers; and their known
problems: vanishing gradients (sigmoid, tanh), dying ReLU, outputs that are not
zero-centred. Where a study store exists, the user's own results are cited.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ._common import CLIError, console, examples, fmt_num, print_json

TASKS = ("binary", "multiclass", "multilabel", "regression")
LAYERS = ("hidden", "output")

# (name, why, caveats); names missing from the registry are skipped.
_HIDDEN = [
    (
        "relu",
        "cheap, and f'(x) = 1 for x > 0, so the gradient does not vanish through many layers; "
        "many units output exactly 0, which makes activations sparse. The default choice for hidden layers.",
        "dying ReLU: a unit whose input stays negative gets zero gradient and stops learning; "
        "its outputs are not zero-centred. Use He initialisation (gain sqrt 2) and a moderate learning rate.",
    ),
    (
        "leaky_relu",
        "keeps a small slope (0.01) for x < 0, so no unit can die; otherwise like ReLU.",
        "the slope is arbitrary and its benefit varies between problems.",
    ),
    (
        "prelu",
        "learns the negative slope, so the network chooses how leaky each layer is.",
        "one more parameter per layer; may perform differently on different problems.",
    ),
    (
        "elu",
        "negative outputs pull the mean activation toward zero, which speeds up learning; smooth at 0 "
        "(alpha = 1) and no dead units.",
        "exp() makes it slower than ReLU; alpha may need tuning.",
    ),
    (
        "selu",
        "self-normalising: with LeCun-normal initialisation, activations keep mean 0 and variance 1 "
        "through deep fully-connected nets without batch norm.",
        "needs LeCun-normal init and alpha-dropout to keep its guarantee.",
    ),
    (
        "silu",
        "Swish (x sigmoid(x)): smooth and non-monotonic; reported 0.6-0.9% higher top-1 accuracy than "
        "ReLU on ImageNet models (Ramachandran et al., 2017).",
        "costs an exp per element.",
    ),
    (
        "gelu",
        "smooth ReLU-like gate, the default in transformers (BERT, GPT).",
        "costs an erf (or tanh) per element.",
    ),
    (
        "mish",
        "smooth and non-monotonic like Swish, often on par or slightly better in vision models.",
        "the most expensive of the ReLU-like functions (softplus, tanh).",
    ),
    (
        "tanh",
        "zero-centred (range -1 to 1), so the next layer sees inputs of mean near 0; fine for shallow "
        "nets and recurrent cells.",
        "vanishing gradient: f' -> 0 for large |x|, so deep stacks train slowly.",
    ),
]
_AVOID_HIDDEN = [
    (
        "sigmoid",
        "its derivative is at most 0.25, so every layer shrinks the back-propagated error by at least "
        "75% (vanishing gradient), and its output is not zero-centred.",
    ),
    (
        "identity",
        "a stack of linear layers collapses into one linear layer: the network can only learn "
        "linear functions.",
    ),
    ("binary_step", "its derivative is 0 everywhere (undefined at 0): gradient descent cannot train it."),
    (
        "softmax",
        "an output-layer function: it couples all units of a layer into one probability distribution.",
    ),
]
_OUTPUT: dict[str, list[tuple[str, str, str]]] = {
    "binary": [
        (
            "sigmoid",
            "squashes the score into (0, 1): the probability of the positive class. Pair it with binary "
            "cross-entropy, computed from the logits (e.g. torch BCEWithLogitsLoss) for stability.",
            "do not use it in the hidden layers (vanishing gradient).",
        ),
        (
            "softmax",
            "over two outputs it is the same model as one sigmoid unit, with twice the weights.",
            "prefer one sigmoid unit.",
        ),
    ],
    "multilabel": [
        (
            "sigmoid",
            "one independent probability per label: labels are not mutually exclusive.",
            "pair with binary cross-entropy on the logits.",
        ),
    ],
    "multiclass": [
        (
            "softmax",
            "turns the scores into a probability distribution: each output in (0, 1), all summing to 1, "
            "so the model states its confidence in every class. Pair it with cross-entropy on the logits.",
            "compute the loss from logits (log-softmax) rather than log(softmax(x)) for numerical stability.",
        ),
        (
            "log_softmax",
            "the log-probabilities directly, for a negative log-likelihood loss; stable for very "
            "confident predictions.",
            "",
        ),
        (
            "sparsemax",
            "like softmax, but can give classes exactly zero probability (sparse outputs).",
            "less common; its gradient is sparse too.",
        ),
    ],
    "regression": [
        (
            "identity",
            "linear output: unbounded, with gradient 1 everywhere, so the network can produce any "
            "real target; linear activations belong in the last layer of a regression model.",
            "scale the targets (standardise them) so the output layer starts in the right range.",
        ),
        (
            "softplus",
            "when the target is strictly positive (a count, a variance): smooth and always > 0.",
            "",
        ),
        (
            "sigmoid",
            "when the target lies in a known interval (0, 1) after scaling.",
            "saturates at the ends.",
        ),
    ],
}
_AVOID_OUTPUT: dict[str, list[tuple[str, str]]] = {
    "binary": [
        (
            "relu",
            "unbounded and dead for negative scores: not a probability, and a dead unit in the final "
            "layer cannot recover.",
        ),
        ("identity", "not a probability."),
    ],
    "multilabel": [("softmax", "forces the labels to compete: their probabilities would sum to 1.")],
    "multiclass": [
        ("sigmoid", "independent per class: the outputs do not sum to 1."),
        ("relu", "not a probability; a dead output unit cannot recover."),
    ],
    "regression": [
        ("relu", "cannot output negative values, and its gradient is 0 whenever it would need to."),
        ("tanh", "bounded to (-1, 1): only for targets scaled into that interval."),
    ],
}


def _available(name: str) -> str | None:
    import actlab

    try:
        return actlab.spec(name).name
    except actlab.ActlabError:
        return None


def _gain(name: str) -> float | None:
    try:
        from ..analysis import init_gain

        return float(init_gain(name))
    except Exception:  # noqa: BLE001 - the analysis layer is optional here
        return None


def advice(task: str, layer: str) -> dict[str, Any]:
    if task not in TASKS:
        raise CLIError(f"unknown --task {task!r}; valid tasks: {', '.join(TASKS)}")
    if layer not in LAYERS:
        raise CLIError(f"unknown --layer {layer!r}; valid layers: {', '.join(LAYERS)}")
    recs: list[dict[str, Any]] = []
    avoid: list[dict[str, Any]] = []
    source = _HIDDEN if layer == "hidden" else _OUTPUT[task]
    for name, why, caveat in source:
        real = _available(name)
        if real is None:
            continue
        rec: dict[str, Any] = {"rank": len(recs) + 1, "activation": real, "why": why, "caveats": caveat}
        if layer == "hidden":
            rec["init_gain"] = _gain(real)
        recs.append(rec)
    for name, why in _AVOID_HIDDEN if layer == "hidden" else _AVOID_OUTPUT[task]:
        real = _available(name)
        if real is not None:
            avoid.append({"activation": real, "why": why})
    return {"task": task, "layer": layer, "recommendations": recs, "avoid": avoid}


def _store_path(store: Path | None) -> tuple[Path, bool]:
    if store is not None:
        return store, True
    env = os.environ.get("ACTLAB_STORE")
    if env:
        return Path(env), False
    return Path("actlab-runs") / "actlab.db", False


def evidence(store: Path | None) -> dict[str, Any]:
    """The user's own results, through ``actlab.study.summarize_store``; skipped quietly where absent."""
    path, explicit = _store_path(store)
    if not path.exists():
        if explicit:
            raise CLIError(f"no study store at {str(path)!r} (run `actlab study` first, or drop --store)")
        return {
            "store": str(path),
            "rows": None,
            "note": "no study store here: run `actlab study` to compare activations on your own data",
        }
    try:
        from ..study import summarize_store
    except ImportError as e:
        return {"store": str(path), "rows": None, "note": f"the study results cannot be read: {e}"}
    try:
        rows = summarize_store(path)
    except Exception as e:  # noqa: BLE001 - a broken store must not break the advice
        if explicit:
            raise CLIError(f"cannot read the study store {str(path)!r}: {str(e).splitlines()[0]}") from None
        return {"store": str(path), "rows": None, "note": f"the study store could not be read: {e}"}
    return {"store": str(path), "rows": rows, "note": None}


def _cite(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ds.setdefault(str(r.get("dataset")), []).append(r)
    for ds, rs in by_ds.items():
        rs = sorted(rs, key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
        best = rs[0]
        line = (
            f"on {ds}, your best was {best['activation']} ({best.get('metric', 'metric')} "
            f"{fmt_num(best.get('mean'))} ± {fmt_num(best.get('sd'))}, n = {best.get('n')})"
        )
        if len(rs) > 1:
            nxt = rs[1]
            line += f", ahead of {nxt['activation']} ({fmt_num(nxt.get('mean'))} ± {fmt_num(nxt.get('sd'))})"
        sig = best.get("significant")
        if sig is False:
            line += "; the difference is not significant"
        out.append(line)
    return out


def register(app: typer.Typer) -> None:
    @app.command(
        "recommend",
        epilog=examples(
            "actlab recommend --task binary --layer output",
            "actlab recommend --task multiclass --layer output",
            "actlab recommend --task regression --layer hidden",
            "actlab recommend --task binary --layer hidden --store actlab-runs/actlab.db --json",
        ),
    )
    def recommend(
        task: str = typer.Option(..., "--task", "-t", help="binary, multiclass, multilabel or regression"),
        layer: str = typer.Option(..., "--layer", "-l", help="hidden or output"),
        store: Path | None = typer.Option(  # noqa: B008
            None,
            "--store",
            help="a study store whose results to cite (default: ./actlab-runs/actlab.db where it exists)",
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Which activation to use for a task and layer, with the reasons (and your own results)."""
        a = advice(task, layer)
        ev = evidence(store)
        a["evidence"] = {**ev, "summary": _cite(ev["rows"]) if ev["rows"] else []}
        if as_json:
            print_json(a)
            return
        from rich.table import Table
        from rich.text import Text

        c = console()
        c.print(Text(f"{layer} layer, {task} task", style="bold"))
        t = Table(show_lines=True)
        for col in ("#", "activation", "why", "watch out for"):
            t.add_column(col, overflow="fold")
        for r in a["recommendations"]:
            name = r["activation"]
            if r.get("init_gain"):
                name += f"\n(init gain {r['init_gain']:.4g})"
            t.add_row(str(r["rank"]), Text(name), Text(r["why"]), Text(r["caveats"]))
        c.print(t)
        if a["avoid"]:
            c.print(Text("avoid here:", style="bold"))
            for r in a["avoid"]:
                c.print(Text(f"  - {r['activation']}: {r['why']}"))
        e = a["evidence"]
        if e["rows"]:
            c.print(Text(f"your own results ({e['store']}):", style="bold"))
            if layer == "output":
                c.print(
                    Text("  (a study compares hidden-layer activations; shown for reference)", style="dim")
                )
            for line in e["summary"]:
                c.print(Text(f"  - {line}"))
        elif e["note"]:
            c.print(Text(e["note"], style="dim"))
