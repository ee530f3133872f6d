"""The ensembled trainer against a plain sequential PyTorch loop, divergence, early stopping, health."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: threads only add overhead (and contention on a busy machine)

from actlab.study.config import ActivationChoice, DatasetChoice, ModelConfig, SplitConfig, TrainConfig  # noqa: E402
from actlab.study.trainer import Member, Unit, train_ensemble, train_reference  # noqa: E402

MOONS = DatasetChoice("moons", (("n_samples", 240),))


def unit(dataset=MOONS, act="tanh", model=None, seeds=(0, 1), lrs=(0.003, 0.03), **training):
    tc = dict(max_epochs=6, patience=2, dtype="float64", batch_size=32)
    tc.update(training)
    return Unit(
        dataset,
        ActivationChoice(act),
        model or ModelConfig(kind="mlp", depth=2, width=12),
        TrainConfig(**tc),
        SplitConfig(),
        [Member(s, lr, f"{s}-{lr}") for s in seeds for lr in lrs],
    )


def assert_same(a, b, tol=1e-9):
    assert [(r.seed, r.lr) for r in a] == [(r.seed, r.lr) for r in b]
    for x, y in zip(a, b):
        assert x.status == y.status and x.diverged_epoch == y.diverged_epoch
        assert x.best_epoch == y.best_epoch and x.epochs_run == y.epochs_run
        for f in ("val_loss", "val_metric", "test_loss", "test_metric"):
            assert getattr(x, f) == pytest.approx(getattr(y, f), rel=tol, abs=tol), (x.seed, x.lr, f)
        for ex, ey in zip(x.epochs, y.epochs):
            assert ex["val_loss"] == pytest.approx(ey["val_loss"], rel=tol, abs=tol)
            assert ex["val_metric"] == pytest.approx(ey["val_metric"], rel=tol, abs=tol)


@pytest.mark.parametrize("case", ["mlp", "batchnorm", "regression", "multiclass-sgd", "cnn"])
def test_ensemble_equals_sequential_loop(case):
    if case == "mlp":
        u = unit(act="relu")
    elif case == "batchnorm":
        u = unit(act="leaky_relu", model=ModelConfig(kind="mlp", depth=2, width=8, batch_norm=True))
    elif case == "regression":
        u = unit(DatasetChoice("diabetes"), act="tanh")
    elif case == "multiclass-sgd":
        u = unit(DatasetChoice("iris"), act="sigmoid", optimizer="sgd", lrs=(0.05, 0.2))
    else:
        u = unit(
            DatasetChoice("digits"),
            act="relu",
            seeds=(0,),
            max_epochs=2,
            model=ModelConfig(kind="cnn", width=8, channels=(3, 4), batch_norm=True),
        )
    assert_same(train_ensemble(u), train_reference(u))


def test_members_stop_independently_and_match_solo_runs():
    u = unit(act="tanh", seeds=(0, 1, 2), lrs=(0.001, 0.1), max_epochs=15, patience=2, dtype="float64")
    together = train_ensemble(u)
    assert len({r.epochs_run for r in together}) > 1  # early stopping per member
    for r in together:
        solo = train_ensemble(
            Unit(u.dataset, u.activation, u.model, u.training, u.split, [Member(r.seed, r.lr, r.key)])
        )[0]
        assert_same([r], [solo], tol=1e-9)


def test_divergence_is_recorded_not_raised():
    u = unit(
        DatasetChoice("diabetes"),
        act="relu",
        optimizer="sgd",
        momentum=0.0,
        lrs=(0.01, 1e6),
        seeds=(0,),
        max_epochs=5,
    )
    res = {r.lr: r for r in train_ensemble(u)}
    bad, good = res[1e6], res[0.01]
    assert bad.status == "diverged" and bad.diverged_epoch == 1
    assert bad.epochs_run == 1
    assert good.status == "ok" and good.diverged_epoch is None and good.epochs_run == 5
    # the diverged member did not disturb the other one
    alone = train_ensemble(Unit(u.dataset, u.activation, u.model, u.training, u.split, [Member(0, 0.01)]))[0]
    assert good.test_metric == pytest.approx(alone.test_metric, rel=1e-12)
    ref = {r.lr: r for r in train_reference(u)}
    assert ref[1e6].status == "diverged" and ref[1e6].diverged_epoch == 1


def test_recorded_fields_and_health():
    u = unit(act="relu", dtype="float32", max_epochs=4)
    for r in train_ensemble(u):
        assert r.metric == "accuracy" and 0 <= r.test_metric <= 1
        assert 1 <= r.best_epoch <= r.epochs_run == len(r.epochs) <= 4
        assert r.train_time > 0
        assert r.epochs_to_95 is None or r.epochs_to_95 <= r.epochs_run
        e = r.epochs[0]
        for k in ("train_loss", "train_metric", "val_loss", "val_metric", "time", "dead", "saturated"):
            assert math.isfinite(e[k])
        assert len(e["grad_norm"]) == 3  # two hidden layers and the output layer
        assert 0 <= e["dead"] <= 1 and 0 < e["saturated"] < 1  # relu: the negative side is flat
        h = r.health
        assert h["init_gain"] == pytest.approx(math.sqrt(2), rel=0.05)
        assert len(h["dead_by_layer"]) == 2


def test_cnn_on_tabular_data_is_a_config_error():
    from actlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="needs image data"):
        train_ensemble(unit(model=ModelConfig(kind="cnn")))


def test_dropout_runs_are_reproducible():
    u = unit(act="relu", model=ModelConfig(kind="mlp", depth=2, width=8, dropout=0.3), max_epochs=3)
    a, b = train_ensemble(u), train_ensemble(u)
    assert [r.test_metric for r in a] == [r.test_metric for r in b]
    assert [r.epochs[-1]["train_loss"] for r in a] == [r.epochs[-1]["train_loss"] for r in b]
