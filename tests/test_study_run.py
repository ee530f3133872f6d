"""A tiny study end to end: statistics, report (HTML in headless Chromium, Markdown, CSV), the CLI
commands, summarize_store, resuming, and MLflow logging."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import textwrap

import pytest

pytest.importorskip("torch")
typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from actlab.study import parse_config, run_study, summarize_store  # noqa: E402
from actlab.study.stats import holm, mean_ci, welch  # noqa: E402

EVIL = '<script>alert("x")</script> & <b>bold</b>'
CONFIG = textwrap.dedent(f"""\
    name = "tiny"
    description = '{EVIL}'
    seeds = 3
    activations = ["relu", "tanh"]
    datasets = [{{name = "moons", n_samples = 160}}, "iris"]
    [[activation]]
    name = "tiny_swish"
    formula = "x * sigmoid(beta * x)"
    params = {{beta = 2.0}}
    [model]
    depth = 1
    width = 8
    [training]
    lr_grid = [0.01, 0.05]
    max_epochs = 6
    patience = 3
""")
N = 2 * 3 * 3 * 2


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("study")
    cfg = parse_config(CONFIG, "tiny.toml")
    # two worker processes: the formula activation must be defined again inside each of them
    out = run_study(cfg, store_path=root / "runs" / "actlab.db", jobs=2, progress=False)
    yield cfg, out, root
    import actlab

    actlab.unregister("tiny_swish", missing_ok=True)  # keep the registry as other tests expect it


def app():
    from actlab.cli.study import register

    a = typer.Typer()
    register(a)

    @a.command("noop", hidden=True)
    def _noop() -> None:  # a second command keeps typer from collapsing the app into one command
        pass

    return a


def test_outcome_and_analysis(study):
    cfg, out, _ = study
    assert out.new == N and out.reused == 0 and out.total == N and not out.failures
    a = out.analysis
    assert a.baseline == "relu"
    assert set(a.datasets()) == {"moons(n_samples=160)", "iris"}
    for ds in a.datasets():
        rows = a.for_dataset(ds)
        assert sorted(r.rank for r in rows) == pytest.approx(sorted(r.rank for r in rows))
        assert {r.activation for r in rows} == {"relu", "tanh", "tiny_swish"}
        for r in rows:
            assert r.n == 3 and r.lr in (0.01, 0.05)
            assert r.ci_low <= r.mean <= r.ci_high or math.isnan(r.sd)
            assert set(r.lr_scores) == {"0.01", "0.05"}
            if not r.is_baseline:
                assert r.p_holm is None or 0 <= r.p_holm <= 1
    rec = a.recommendation
    assert rec["activation"] in {"relu", "tanh", "tiny_swish"} and rec["reasons"]


def test_lr_is_chosen_on_validation_not_test(study):
    from actlab.study import Store

    _, out, root = study
    with Store(root / "runs" / "actlab.db", create=False) as s:
        trials = s.trials(out.study_id)
    for r in out.analysis.rows:
        runs = [t for t in trials if t["dataset"] == r.dataset and t["activation"] == r.activation]
        by_lr = {}
        for t in runs:
            by_lr.setdefault(t["lr"], []).append(t["val_metric"])
        best_val = max(sum(v) / len(v) for v in by_lr.values())
        assert sum(by_lr[r.lr]) / len(by_lr[r.lr]) == pytest.approx(best_val)


def test_rerun_trains_nothing(study):
    cfg, out, root = study
    again = run_study(cfg, store_path=root / "runs" / "actlab.db", jobs=1, progress=False)
    assert again.new == 0 and again.reused == N and again.study_id == out.study_id


def test_report_files_and_escaping(study):
    _, out, _ = study
    html_text = out.report["html"].read_text()
    assert "<script>alert" not in html_text and "&lt;script&gt;alert" in html_text
    assert "<b>bold</b>" not in html_text
    assert html_text.count("data:image/png;base64,") == 6
    for needle in (
        "Recommendation",
        "Overall ranking",
        "Learning curves",
        "Accuracy against wall time",
        "The candidates and their derivatives",
        "Gradient health",
        "95% CI",
    ):
        assert needle in html_text
    md = out.report["md"].read_text()
    assert "## Recommendation" in md and "<script>" not in md
    rows = list(csv.DictReader(out.report["csv"].open()))
    assert len(rows) == 6 and {"mean", "sd", "ci_low", "ci_high", "p_holm", "d", "rank"} <= set(rows[0])
    assert len(list(csv.DictReader(out.report["trials_csv"].open()))) == N


def test_summarize_store(study):
    _, out, root = study
    rows = summarize_store(root / "runs" / "actlab.db")
    assert len(rows) == 6
    for r in rows:
        assert {"dataset", "activation", "metric", "mean", "sd", "n", "rank"} <= set(r)
    assert {r["rank"] for r in rows if r["dataset"] == "iris"} <= {1, 1.5, 2, 2.5, 3}


def test_cli_runs_show_export(study, tmp_path):
    _, out, root = study
    db = str(root / "runs" / "actlab.db")
    r = CliRunner().invoke(app(), ["runs", "--store", db])
    assert r.exit_code == 0 and "tiny" in r.output
    r = CliRunner().invoke(app(), ["show", "tiny", "--store", db])
    assert r.exit_code == 0, r.output
    assert "iris: test accuracy, ranked" in r.output and "Recommendation:" in r.output
    r = CliRunner().invoke(app(), ["export", str(out.study_id), "--csv", "--store", db])
    assert r.exit_code == 0
    assert len(list(csv.DictReader(r.output.splitlines()))) == N
    dest = tmp_path / "s.json"
    r = CliRunner().invoke(app(), ["export", "tiny", "--json", "--epochs", "-o", str(dest), "--store", db])
    assert r.exit_code == 0, r.output
    doc = json.loads(dest.read_text())
    assert len(doc["trials"]) == N and doc["trials"][0]["epochs"] and doc["recommendation"]
    r = CliRunner().invoke(app(), ["show", "nosuch", "--store", db])
    assert r.exit_code == 1 and "no study 'nosuch'" in r.output
    r = CliRunner().invoke(app(), ["runs", "--store", str(tmp_path / "missing.db")])
    assert r.exit_code == 1 and "no run store" in r.output


def test_cli_study_config_error_exits_before_training(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('activations = ["relu", "rleu"]\n')
    r = CliRunner().invoke(app(), ["study", str(bad), "--store", str(tmp_path / "x.db")])
    assert r.exit_code == 2
    assert "bad.toml:1: activations[1]" in r.output and "relu" in r.output
    assert not (tmp_path / "x.db").exists()  # nothing was created


def test_cli_study_dry_run(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    r = CliRunner().invoke(app(), ["study", str(cfg), "--dry-run", "--store", str(tmp_path / "x.db")])
    assert r.exit_code == 0, r.output
    assert f"= {N} trials" in r.output


def test_statistics_helpers():
    m, sd, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert (m, sd) == (2.0, 1.0)
    assert hi - m == pytest.approx(4.302652729911275 / math.sqrt(3))  # t(0.975, 2)
    p, d = welch([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert d == pytest.approx(-1.0) and p == pytest.approx(0.2878641347266908, rel=1e-6)
    assert welch([1.0, 1.0], [1.0, 1.0]) == (1.0, 0.0)
    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]


# --------------------------------------------------------------------------- the browser
PROBE = (
    "<script>window.addEventListener('load',function(){var im=document.images,ok=0,bad=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;else bad++;}"
    "document.body.setAttribute('data-probe','ok='+ok+';bad='+bad);console.log('actlab-probe');});"
    "</script>"
)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(study, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    _, out, _ = study
    page = tmp_path / "report.html"
    # The report has no scripts of its own; a probe added to a copy counts the images that loaded.
    page.write_text(out.report["html"].read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "actlab study: tiny" in dom and "Overall ranking" in dom
    assert 'data-probe="ok=6;bad=0"' in dom
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert console and all("actlab-probe" in ln for ln in console), console


# --------------------------------------------------------------------------- MLflow
def test_mlflow_logging(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local file: URI (no database server needed)
    from mlflow.tracking import MlflowClient

    cfg = parse_config(
        textwrap.dedent("""\
        name = "tracked"
        seeds = 2
        activations = ["relu", "tanh"]
        datasets = [{name = "moons", n_samples = 120}]
        [model]
        depth = 1
        width = 4
        [training]
        lr_grid = [0.05]
        max_epochs = 3
    """)
    )
    uri = (tmp_path / "mlruns").as_uri()
    out = run_study(cfg, store_path=tmp_path / "a.db", jobs=1, progress=False, mlflow_uri=uri)
    assert out.new == 4
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("actlab/tracked")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 4
    run = runs[0]
    assert run.data.params["dataset"] == "moons(n_samples=120)"
    assert "test_accuracy" in run.data.metrics
    assert len(client.get_metric_history(run.info.run_id, "epoch_val_loss")) >= 1


def test_bad_mlflow_uri_fails_before_training(tmp_path):
    pytest.importorskip("mlflow")
    from actlab.core.errors import ConfigError

    cfg = parse_config('activations = ["relu"]\ndatasets = ["iris"]\nseeds = 1\n[training]\nlr_grid = [0.1]')
    with pytest.raises(ConfigError, match="--mlflow-uri"):
        run_study(cfg, store_path=tmp_path / "a.db", jobs=1, progress=False, mlflow_uri="nosuchscheme://x")


def test_cli_unreadable_dataset_fails_before_training(tmp_path):
    cfg = tmp_path / "c.toml"
    missing = tmp_path / "nowhere"
    cfg.write_text(f'datasets = [{{name = "mnist", path = "{missing}"}}]\nactivations = ["relu"]\n')
    r = CliRunner().invoke(app(), ["study", str(cfg), "--store", str(tmp_path / "x.db")])
    assert r.exit_code == 1 and "does not exist" in r.output
    assert not (tmp_path / "x.db").exists()
