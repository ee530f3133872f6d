"""The ``actlab`` command: list, info, define, plot, gallery, recommend; errors are one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import actlab
from actlab.cli import main


@pytest.fixture(autouse=True)
def _restore_registry():
    """Activations defined by a test (e.g. through --formula) do not outlive it."""
    before = set(actlab.names())
    yield
    for name in set(actlab.names()) - before:
        actlab.unregister(name, missing_ok=True)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_error(capsys, *args, code=None):
    got, out, err = run(capsys, *args)
    assert got != 0, out
    if code is not None:
        assert got == code
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line
    assert lines[0].startswith("actlab: error: ")
    return lines[0]


def load(out: str):
    return json.loads(out)


# --- entry point --------------------------------------------------------------------------------


def test_entry_point_runs_as_a_program(tmp_path):
    exe = shutil.which(
        "actlab", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    cmd = [exe] if exe else [sys.executable, "-m", "actlab.cli"]
    r = subprocess.run(
        [*cmd, "list", "--family", "sigmoidal", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert {row["name"] for row in json.loads(r.stdout)} == set(actlab.names(family="sigmoidal"))
    r = subprocess.run(
        [sys.executable, "-m", "actlab.cli", "info", "nope"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stdout == ""


def test_version_and_bare_command(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"actlab {actlab.__version__}"
    code, out, _ = run(capsys)
    assert code == 0 and "Usage" in out and "recommend" in out


@pytest.mark.parametrize("command", ["list", "info", "define", "plot", "gallery", "recommend"])
def test_every_command_has_help_with_examples(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "Examples" in out and f"$ actlab {command}" in out


def test_study_commands_are_registered(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(c in out for c in ("study", "runs", "show", "export"))


# --- list ---------------------------------------------------------------------------------------


def test_list_table_and_json(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "relu" in out and "sigmoidal" in out
    code, out, _ = run(capsys, "list", "--json")
    rows = load(out)
    assert [r["name"] for r in rows] == actlab.names()
    relu = next(r for r in rows if r["name"] == "relu")
    assert relu["range"] == [0.0, "inf"] and relu["kinks"] == [{"at": 0.0, "grad": 0.0}]


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["--family", "rectified"], lambda a: a.family == "rectified"),
        (["--bounded"], lambda a: a.properties.bounded),
        (["--unbounded"], lambda a: not a.properties.bounded),
        (["--monotonic"], lambda a: a.properties.monotonic),
        (["--non-monotonic"], lambda a: not a.properties.monotonic),
        (["--smooth"], lambda a: a.properties.smoothness == 3),
        (["--learnable"], lambda a: a.spec.learnable),
        (["--zero-centred"], lambda a: a.properties.zero_centred),
        (["--kind", "vector"], lambda a: a.spec.kind == "vector"),
        (
            ["--bounded", "--monotonic", "--smooth"],
            lambda a: a.properties.bounded and a.properties.monotonic and a.properties.smoothness == 3,
        ),
    ],
)
def test_list_filters(capsys, args, check):
    code, out, _ = run(capsys, "list", *args, "--json")
    assert code == 0
    got = {r["name"] for r in load(out)}
    want = {a.name for a in actlab.catalog() if check(a)}
    assert got == want
    if args != ["--kind", "vector"] or want:
        assert got, args  # the catalog has members of every filtered class


def test_list_errors(capsys):
    assert "valid families" in run_error(capsys, "list", "--family", "nope", code=1)
    assert "valid kinds" in run_error(capsys, "list", "--kind", "scalar", code=1)
    assert "--family" in run_error(capsys, "list", "--famly", "x", code=2)


# --- info ---------------------------------------------------------------------------------------


def test_info_text(capsys):
    code, out, _ = run(capsys, "info", "relu")
    assert code == 0
    for piece in ("relu", "f(x)", "f'(x)", "LaTeX", "kinks", "x = 0", "init gain", "paper", "Nair"):
        assert piece in out, piece


def test_info_json(capsys):
    code, out, _ = run(capsys, "info", "elu:alpha=0.5", "--json")
    d = load(out)
    assert code == 0 and d["name"] == "elu" and d["params"]["alpha"]["value"] == 0.5
    assert d["formula"]["latex"].startswith("f(x) =") and d["derivative"]["latex"].startswith("f'(x) =")
    assert "Clevert" in d["paper"] and d["year"] == 2016
    assert "init_gain" in d
    try:
        from actlab.analysis import init_gain
    except Exception:  # noqa: BLE001 - the analysis layer is optional for the CLI
        init_gain = None
    if init_gain is not None:
        assert d["init_gain"] == pytest.approx(init_gain(actlab.get("elu", alpha=0.5)))
    code, out, _ = run(capsys, "info", "swish", "--json")
    assert load(out)["name"] == "silu"  # aliases resolve


def test_info_formula(capsys):
    code, out, _ = run(capsys, "info", "--formula", "x * sigmoid(beta * x)", "--param", "beta=1.5", "--json")
    d = load(out)
    assert code == 0 and d["family"] == "user" and d["params"]["beta"]["value"] == 1.5
    assert d["defined_by_formula"] == "x * sigmoid(beta * x)" and d["numerical_trouble"] == []
    code, out, _ = run(capsys, "info", "--formula", "x * tanh(softplus(x))")
    assert code == 0 and "numerical trouble" in out and "none found" in out


def test_info_errors(capsys):
    line = run_error(capsys, "info", "rleu", code=1)
    assert "did you mean 'relu'" in line and "actlab list" in line
    assert "either" in run_error(capsys, "info", code=1)
    assert "either" in run_error(capsys, "info", "relu", "--formula", "x", code=1)
    assert "position" in run_error(capsys, "info", "--formula", "x +", code=1)
    assert "unknown name 'y'" in run_error(capsys, "info", "--formula", "x * y", code=1)
    assert "alpha" in run_error(capsys, "info", "elu:alpha=-1", code=1)
    assert "NAME=VALUE" in run_error(capsys, "info", "--formula", "x", "--param", "beta", code=1)


# --- define -------------------------------------------------------------------------------------


def test_define_reports_numerical_trouble(capsys):
    code, out, _ = run(capsys, "define", "log(1 + exp(x))", "--range", "-800", "800", "--json")
    d = load(out)
    assert code == 0
    assert any("overflows in float64" in t for t in d["numerical_trouble"])
    assert any("softplus" in t for t in d["numerical_trouble"])
    code, out, _ = run(capsys, "define", "(exp(x) - 1) / x")
    assert code == 0 and "loses precision" in out and "expm1" in out


def test_define_rejects_code(capsys):
    line = run_error(capsys, "define", "__import__('os').system('echo hacked')", code=1)
    assert "not allowed" in line


# --- plot ---------------------------------------------------------------------------------------


def test_plot_writes_each_format(capsys, tmp_path):
    for suffix, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        out_file = tmp_path / f"p.{suffix}"
        code, out, err = run(
            capsys,
            "plot",
            "relu",
            "tanh",
            "elu:alpha=0.5",
            "--derivative",
            "--range",
            "-3",
            "3",
            "-o",
            str(out_file),
        )
        assert code == 0, err
        assert out.strip() == f"wrote {out_file}"
        assert out_file.read_bytes().startswith(magic)


def test_plot_png_shows_the_curve(capsys, tmp_path):
    import matplotlib.image as mpimg

    out_file = tmp_path / "relu.png"
    code, _, _ = run(capsys, "plot", "relu", "--range", "-2", "2", "-o", str(out_file))
    assert code == 0
    img = mpimg.imread(out_file)[..., :3]
    blue = np.array([0x00, 0x72, 0xB2]) / 255
    mask = np.abs(img - blue).max(axis=-1) < 0.1
    rows, cols = np.nonzero(mask)
    assert mask.sum() > 200
    # relu: flat on the left, rising on the right. Image rows grow downward; the lowest blue pixel of
    # each column belongs to the curve (the legend's sample line sits at the top).
    lowest = {c: rows[cols == c].max() for c in np.unique(cols)}
    cs = np.array(sorted(lowest))
    left = np.array([lowest[c] for c in cs[cs < np.percentile(cs, 30)]])
    right = np.array([lowest[c] for c in cs[cs > np.percentile(cs, 75)]])
    assert np.ptp(left) <= 4 and right.mean() < left.mean() - 50
    assert np.all(np.diff(right) <= 1)  # rising to the right


def test_plot_default_output_and_formulas(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "plot", "--formula", "x * sigmoid(beta * x)", "--param", "beta=2", "silu", "-d"
    )
    assert code == 0, err
    written = Path(out.strip().removeprefix("wrote "))
    assert written.suffix == ".png" and (tmp_path / written).exists()
    code, out, err = run(
        capsys,
        "plot",
        "--formula",
        "log(1 + exp(x))",
        "--range",
        "-800",
        "800",
        "-o",
        str(tmp_path / "naive.png"),
    )
    assert code == 0
    warnings = [ln for ln in err.splitlines() if ln.startswith("actlab: warning:")]
    assert any("overflows in float64" in w for w in warnings) and any("softplus" in w for w in warnings)


def test_plot_errors(capsys, tmp_path):
    assert "nothing to plot" in run_error(capsys, "plot", code=1)
    assert ".png, .svg, .pdf" in run_error(capsys, "plot", "relu", "-o", str(tmp_path / "x.gif"), code=1)
    assert "LO < HI" in run_error(capsys, "plot", "relu", "--range", "3", "-3", code=1)
    assert "did you mean" in run_error(capsys, "plot", "tahn", code=1)
    assert "does not exist" in run_error(capsys, "plot", "relu", "-o", str(tmp_path / "no" / "x.png"), code=1)
    assert "--range" in run_error(capsys, "plot", "relu", "--range", "1", code=2)
    assert "for a catalog entry" in run_error(capsys, "plot", "relu", "--param", "a=1", code=1)


# --- gallery ------------------------------------------------------------------------------------


def test_gallery_subset(capsys, tmp_path):
    site = tmp_path / "site"
    code, out, err = run(
        capsys, "gallery", "-o", str(site), "--only", "relu", "--only", "softmax", "--formula", "x * tanh(x)"
    )
    assert code == 0, err
    html = (site / "index.html").read_text()
    assert out.strip() == f"wrote {site / 'index.html'}"
    assert 'id="act-relu"' in html and 'id="act-softmax"' in html and "x * tanh(x)" in html
    assert (site / "plots" / "relu.svg").exists()
    (tmp_path / "afile").write_text("x")
    assert "is a file" in run_error(capsys, "gallery", "-o", str(tmp_path / "afile"), code=1)


# --- recommend ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "layer", "first", "avoid"),
    [
        ("binary", "output", "sigmoid", "relu"),
        ("multilabel", "output", "sigmoid", "softmax"),
        ("multiclass", "output", "softmax", "sigmoid"),
        ("regression", "output", "identity", "relu"),
        ("binary", "hidden", "relu", "sigmoid"),
        ("regression", "hidden", "relu", "identity"),
    ],
)
def test_recommend(capsys, tmp_path, monkeypatch, task, layer, first, avoid):
    monkeypatch.chdir(tmp_path)  # no study store here
    monkeypatch.delenv("ACTLAB_STORE", raising=False)
    code, out, _ = run(capsys, "recommend", "--task", task, "--layer", layer, "--json")
    d = load(out)
    assert code == 0 and d["recommendations"][0]["activation"] == first
    assert avoid in [a["activation"] for a in d["avoid"]]
    assert all(r["why"] for r in d["recommendations"])
    assert d["evidence"]["rows"] is None and "actlab study" in d["evidence"]["note"]
    code, out, _ = run(capsys, "recommend", "--task", task, "--layer", layer)
    assert code == 0 and first in out


def test_recommend_reasons_follow_the_seed_documents(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "recommend", "--task", "binary", "--layer", "hidden", "--json")
    d = load(out)
    text = json.dumps(d).lower()
    for idea in ("vanishing gradient", "dying relu", "zero-centred", "75%"):
        assert idea in text, idea
    relu = d["recommendations"][0]
    if relu.get("init_gain") is not None:
        assert relu["init_gain"] == pytest.approx(2**0.5, rel=1e-6)


def test_recommend_cites_the_users_results(capsys, tmp_path, monkeypatch):
    import types

    rows = [
        {
            "dataset": "moons",
            "activation": "gelu",
            "metric": "accuracy",
            "mean": 0.97,
            "sd": 0.01,
            "n": 5,
            "rank": 1,
            "significant": True,
        },
        {
            "dataset": "moons",
            "activation": "relu",
            "metric": "accuracy",
            "mean": 0.95,
            "sd": 0.02,
            "n": 5,
            "rank": 2,
            "significant": False,
        },
    ]
    fake = types.ModuleType("actlab.study")
    fake.summarize_store = lambda path: rows
    monkeypatch.setitem(sys.modules, "actlab.study", fake)
    store = tmp_path / "runs.db"
    store.write_bytes(b"")
    code, out, _ = run(
        capsys, "recommend", "--task", "binary", "--layer", "hidden", "--store", str(store), "--json"
    )
    d = load(out)
    assert code == 0 and d["evidence"]["rows"] == rows
    assert d["evidence"]["summary"][0].startswith(
        "on moons, your best was gelu (accuracy 0.97 ± 0.01, n = 5)"
    )
    code, out, _ = run(capsys, "recommend", "--task", "binary", "--layer", "hidden", "--store", str(store))
    assert "your own results" in out and "gelu" in out
    # the default store path, found in the working directory
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ACTLAB_STORE", raising=False)
    (tmp_path / "actlab-runs").mkdir()
    (tmp_path / "actlab-runs" / "actlab.db").write_bytes(b"")
    code, out, _ = run(capsys, "recommend", "--task", "binary", "--layer", "hidden", "--json")
    assert load(out)["evidence"]["rows"] == rows


def test_recommend_without_the_study_layer(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "actlab.study", None)  # import fails
    store = tmp_path / "runs.db"
    store.write_bytes(b"")
    code, out, _ = run(
        capsys, "recommend", "--task", "multiclass", "--layer", "output", "--store", str(store), "--json"
    )
    d = load(out)
    assert code == 0 and d["recommendations"][0]["activation"] == "softmax"
    assert d["evidence"]["rows"] is None and "cannot be read" in d["evidence"]["note"]


def test_recommend_errors(capsys, tmp_path):
    assert "valid tasks" in run_error(capsys, "recommend", "--task", "ranking", "--layer", "output", code=1)
    assert "valid layers" in run_error(capsys, "recommend", "--task", "binary", "--layer", "input", code=1)
    assert "--layer" in run_error(capsys, "recommend", "--task", "binary", code=2)
    assert "no study store" in run_error(
        capsys,
        "recommend",
        "--task",
        "binary",
        "--layer",
        "hidden",
        "--store",
        str(tmp_path / "none.db"),
        code=1,
    )
