"""Study datasets: bundled sets, IDX and CIFAR-10 loaders on small files written here, splits, scaling."""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from actlab.core.errors import DatasetError
from actlab.study.config import DatasetChoice
from actlab.study.datasets import DATASETS, load, read_idx, split, standardizer, target_scaler


@pytest.mark.parametrize(
    "name,task",
    [
        ("digits", "multiclass"),
        ("breast_cancer", "binary"),
        ("wine", "multiclass"),
        ("iris", "multiclass"),
        ("diabetes", "regression"),
        ("two_spirals", "binary"),
        ("moons", "binary"),
        ("circles", "binary"),
    ],
)
def test_bundled(name, task):
    ds = load(DatasetChoice(name))
    assert ds.task == task
    assert ds.X.dtype == np.float32 and ds.X.ndim == 2 and len(ds.X) == len(ds.y)
    assert np.isfinite(ds.X).all()
    if task != "regression":
        assert set(np.unique(ds.y)) == set(range(ds.n_classes))


def test_synthetic_params_and_determinism():
    a = load(DatasetChoice("moons", (("n_samples", 120), ("noise", 0.1))))
    b = load(DatasetChoice("moons", (("n_samples", 120), ("noise", 0.1))))
    assert len(a.y) == 120 and a is b
    s1 = load(DatasetChoice("two_spirals", (("n_samples", 200),)))
    from actlab.study.datasets import _two_spirals

    s2 = _two_spirals("two_spirals", n_samples=200)
    np.testing.assert_array_equal(s1.X, s2.X)


def test_split_stratified_disjoint_fixed_by_seed():
    ds = load(DatasetChoice("iris"))
    a, b, c = split(ds, 0), split(ds, 0), split(ds, 1)
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, c.train)
    all_idx = np.concatenate([a.train, a.val, a.test])
    assert len(np.unique(all_idx)) == len(all_idx) == len(ds.y)
    for part in (a.train, a.val, a.test):  # stratified: each class in proportion
        counts = np.bincount(ds.y[part], minlength=3)
        assert counts.max() - counts.min() <= 1
    assert len(a.test) == 30 and len(a.val) == 30


def test_regression_split_and_target_scaling():
    ds = load(DatasetChoice("diabetes"))
    sp = split(ds, 3)
    m, s = target_scaler(ds, sp.train)
    assert m == pytest.approx(ds.y[sp.train].mean(), rel=1e-6)
    assert s == pytest.approx(ds.y[sp.train].std(), rel=1e-6)


def test_standardisation_fitted_on_train_only():
    ds = load(DatasetChoice("breast_cancer"))
    sp = split(ds, 0)
    mu, sd = standardizer(ds, sp.train)
    z = (ds.X[sp.train] - mu) / sd
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)
    zt = (ds.X[sp.test] - mu) / sd
    assert np.abs(zt.mean(0)).max() > 1e-3  # the test part did not take part in the fit


# --------------------------------------------------------------------------- MNIST IDX
def _write_idx(path, arr, code, gz=False):
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)


def _mnist_dir(root, gz, n_train=60, n_test=20, size=6):
    rng = np.random.default_rng(0)
    root.mkdir()
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        sfx = ".gz" if gz else ""
        _write_idx(root / f"{prefix}-images-idx3-ubyte{sfx}", imgs, 0x08, gz)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte{sfx}", labels, 0x08, gz)
    return root


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    d = _mnist_dir(tmp_path / "mnist", gz)
    ds = load(DatasetChoice("mnist", (("path", str(d)),)))
    assert ds.X.shape == (80, 36) and ds.image_shape == (1, 6, 6) and ds.n_classes == 10
    assert ds.X.min() >= 0 and ds.X.max() <= 1
    raw = read_idx(d / ("train-images-idx3-ubyte" + (".gz" if gz else "")))
    np.testing.assert_allclose(ds.X[:60].reshape(60, 6, 6), raw / 255.0, rtol=1e-6)
    sp = split(ds, 0)
    np.testing.assert_array_equal(sp.test, np.arange(60, 80))  # the official test set is kept
    assert set(sp.train) | set(sp.val) == set(range(60))


def test_idx_dtypes(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    _write_idx(tmp_path / "f.idx", arr, 0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), arr)


def test_idx_errors(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(p)
    arr = np.zeros((4, 3), np.uint8)
    _write_idx(p, arr, 0x08)
    p.write_bytes(p.read_bytes()[:-2])
    with pytest.raises(DatasetError, match="needs"):
        read_idx(p)
    with pytest.raises(DatasetError, match="not found"):
        read_idx(tmp_path / "missing")


def test_mnist_path_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load(DatasetChoice("fashion_mnist", (("path", str(tmp_path / "nowhere")),)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="missing file train-images-idx3-ubyte"):
        load(DatasetChoice("fashion_mnist", (("path", str(tmp_path / "empty")),)))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_path(tmp_path):
    d = _mnist_dir(tmp_path / "m", False)
    os.chmod(d, 0)
    try:
        with pytest.raises(DatasetError, match="not readable"):
            load(DatasetChoice("mnist", (("path", str(d)),)))
    finally:
        os.chmod(d, 0o755)


# --------------------------------------------------------------------------- CIFAR-10
def _cifar_dir(root, n=20):
    rng = np.random.default_rng(1)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        batch = {
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": [int(i % 10) for i in range(n)],
            b"batch_label": name.encode(),
        }
        with open(d / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    return root


def test_cifar10(tmp_path):
    root = _cifar_dir(tmp_path / "c")
    ds = load(DatasetChoice("cifar10", (("path", str(root)),)))
    assert ds.X.shape == (60, 3072) and ds.image_shape == (3, 32, 32) and ds.n_classes == 10
    sp = split(ds, 0)
    assert len(sp.test) == 20
    mu, sd = standardizer(ds, sp.train)  # per channel for images
    assert len(np.unique(mu)) == 3


def test_cifar_refuses_code_in_pickles(tmp_path):
    d = tmp_path / "evil"
    d.mkdir()

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    for name in ("data_batch_1", "test_batch"):
        with open(d / name, "wb") as fh:
            pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(DatasetError, match="refusing to load"):
        load(DatasetChoice("cifar10", (("path", str(d)),)))


def test_cifar_missing_batches(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DatasetError, match="data_batch"):
        load(DatasetChoice("cifar10", (("path", str(tmp_path / "x")),)))


def test_registry_lists_everything():
    assert {
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "diabetes",
        "two_spirals",
        "moons",
        "circles",
        "mnist",
        "fashion_mnist",
        "cifar10",
    } <= set(DATASETS)


def test_path_that_is_a_file_and_corrupt_gzip(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DatasetError, match="is not a directory"):
        load(DatasetChoice("mnist", (("path", str(f)),)))
    d = _mnist_dir(tmp_path / "m", True)
    (d / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(DatasetError, match="cannot read"):
        load(DatasetChoice("mnist", (("path", str(d)),)))
