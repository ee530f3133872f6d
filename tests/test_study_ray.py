"""Ray executor: trials run as Ray tasks on a local instance; the driver alone writes the store."""

from __future__ import annotations

import sqlite3
import textwrap

import pytest

pytest.importorskip("torch")
ray = pytest.importorskip("ray")

from actlab.study import parse_config, run_study  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_study_on_local_ray(tmp_path, local_ray):
    cfg = parse_config(
        textwrap.dedent("""\
        name = "on-ray"
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
    out = run_study(cfg, store_path=tmp_path / "a.db", progress=False, ray="local")
    assert ray.is_initialized()  # an instance the caller started is left running
    assert out.new == 4 and out.total == 4 and not out.failures
    with sqlite3.connect(tmp_path / "a.db") as c:
        assert c.execute("SELECT COUNT(DISTINCT key) FROM trials").fetchone()[0] == 4
    assert out.report["html"].exists()


def test_ray_results_equal_local_results(local_ray):
    """A unit computes the same numbers in a Ray task as in the driver."""
    from actlab.study.config import ActivationChoice, DatasetChoice, ModelConfig, SplitConfig, TrainConfig
    from actlab.study.runner import run_ray, run_unit
    from actlab.study.trainer import Member, Unit

    u = Unit(
        DatasetChoice("iris"),
        ActivationChoice("tanh"),
        ModelConfig(kind="mlp", depth=1, width=4),
        TrainConfig(max_epochs=2, dtype="float64"),
        SplitConfig(),
        [Member(0, 0.05, "a"), Member(1, 0.05, "b")],
    )
    local = run_unit(u)
    [(_, remote)] = list(run_ray([u], None, 1))
    assert [r.test_metric for r in remote] == pytest.approx([r.test_metric for r in local], rel=1e-12)
