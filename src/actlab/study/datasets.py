"""Datasets: bundled (scikit-learn, synthetic) and local files (MNIST/Fashion-MNIST IDX, CIFAR-10).

Nothing is downloaded. Splits are stratified and fixed by the seed;
standardisation is fitted on the training part only (:func:`standardizer`).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DatasetError

TASKS = ("multiclass", "binary", "regression")


@dataclass
class Dataset:
    """Features ``X`` (N, D) float32, targets ``y``; images also carry ``image_shape`` (C, H, W)."""

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int = 0  # 0 for regression
    image_shape: tuple[int, int, int] | None = None
    fixed_test: np.ndarray | None = None  # indices of an official test set, if the source has one

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "multiclass" else 1

    @property
    def metric_name(self) -> str:
        return "r2" if self.task == "regression" else "accuracy"


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


# --------------------------------------------------------------------------- bundled
def _sk(loader: str, task: str, image: tuple[int, int, int] | None = None) -> Callable[..., Dataset]:
    def load(name: str, **_: Any) -> Dataset:
        import sklearn.datasets as skd

        bunch = getattr(skd, loader)()
        X = np.asarray(bunch.data, dtype=np.float32)
        if task == "regression":
            y = np.asarray(bunch.target, dtype=np.float32)
            return Dataset(name, task, X, y)
        y = np.asarray(bunch.target, dtype=np.int64)
        k = int(y.max()) + 1
        return Dataset(name, "binary" if k == 2 else "multiclass", X, y, n_classes=k, image_shape=image)

    return load


def _two_spirals(
    name: str, n_samples: int = 1000, noise: float = 0.3, turns: float = 1.75, data_seed: int = 0
) -> Dataset:
    rng = np.random.default_rng(data_seed)
    n = n_samples // 2
    theta = np.sqrt(rng.uniform(size=n)) * turns * 2 * np.pi
    r = theta / (turns * 2 * np.pi) * 6.0
    a = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    X = np.concatenate([a, -a]) + rng.normal(scale=noise, size=(2 * n, 2))
    y = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    return Dataset(name, "binary", X.astype(np.float32), y, n_classes=2)


def _moons(name: str, n_samples: int = 1000, noise: float = 0.2, data_seed: int = 0) -> Dataset:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=data_seed)
    return Dataset(name, "binary", X.astype(np.float32), y.astype(np.int64), n_classes=2)


def _circles(
    name: str, n_samples: int = 1000, noise: float = 0.1, factor: float = 0.5, data_seed: int = 0
) -> Dataset:
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=data_seed)
    return Dataset(name, "binary", X.astype(np.float32), y.astype(np.int64), n_classes=2)


# --------------------------------------------------------------------------- IDX (MNIST)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST format), plain or gzipped; raises ``DatasetError`` if malformed."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"{p}: file not found") from None
    except PermissionError:
        raise DatasetError(f"{p}: permission denied") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DatasetError(f"{p}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{p}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{p}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dt = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != need:
        raise DatasetError(f"{p}: IDX data has {len(body)} bytes, header {dims} needs {need}")
    return np.frombuffer(body, dtype=dt).reshape(dims)


def _find(directory: Path, stems: list[str]) -> Path:
    for stem in stems:
        for suffix in ("", ".gz"):
            f = directory / f"{stem}{suffix}"
            if f.exists():
                return f
    raise DatasetError(
        f"{directory}: missing file {stems[0]}[.gz] (expected the four MNIST IDX files: "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)"
    )


def _check_dir(path: Any, name: str) -> Path:
    if not path:
        raise DatasetError(f'dataset {name!r} needs a path: set path = "DIRECTORY" in its [[dataset]] table')
    p = Path(os.path.expanduser(str(path)))
    if not p.exists():
        raise DatasetError(f"dataset {name!r}: path {p} does not exist")
    if not p.is_dir():
        raise DatasetError(f"dataset {name!r}: path {p} is not a directory")
    if not os.access(p, os.R_OK | os.X_OK):
        raise DatasetError(f"dataset {name!r}: path {p} is not readable")
    return p


def _mnist(name: str, path: str = "", subsample: int = 0, data_seed: int = 0) -> Dataset:
    d = _check_dir(path, name)
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        imgs = read_idx(_find(d, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"]))
        labels = read_idx(_find(d, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"]))
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise DatasetError(
                f"{d}: {split} images {imgs.shape} and labels {labels.shape} do not match "
                "(expected (N, H, W) and (N,))"
            )
        parts[split] = (imgs, labels)
    return _images(name, parts, channels=1, subsample=subsample, data_seed=data_seed)


# --------------------------------------------------------------------------- CIFAR-10
class _SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers only: a data file cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _read_cifar_batch(f: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(f, "rb") as fh:
            d = _SafeUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
    except PermissionError:
        raise DatasetError(f"{f}: permission denied") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DatasetError(f"{f}: not a CIFAR-10 python batch ({e})") from None
    if not isinstance(d, Mapping):
        raise DatasetError(f"{f}: not a CIFAR-10 python batch (expected a dict)")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise DatasetError(f"{f}: CIFAR-10 batch lacks 'data' or 'labels'")
    data = np.asarray(data, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DatasetError(f"{f}: CIFAR-10 data must be (N, 3072) with N labels, got {data.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar10(name: str, path: str = "", subsample: int = 0, data_seed: int = 0) -> Dataset:
    d = _check_dir(path, name)
    if (d / "cifar-10-batches-py").is_dir():
        d = d / "cifar-10-batches-py"
    train_files = sorted(d.glob("data_batch_*"))
    test_file = d / "test_batch"
    if not train_files or not test_file.exists():
        raise DatasetError(f"{d}: expected CIFAR-10 python batches data_batch_1..5 and test_batch")
    tr = [_read_cifar_batch(f) for f in train_files]
    parts = {
        "train": (np.concatenate([a for a, _ in tr]), np.concatenate([b for _, b in tr])),
        "test": _read_cifar_batch(test_file),
    }
    return _images(name, parts, channels=3, subsample=subsample, data_seed=data_seed)


def _images(
    name: str, parts: dict[str, tuple[np.ndarray, np.ndarray]], channels: int, subsample: int, data_seed: int
) -> Dataset:
    (xtr, ytr), (xte, yte) = parts["train"], parts["test"]
    if subsample:
        rng = np.random.default_rng(data_seed)
        xtr, ytr = _stratified_take(xtr, ytr, subsample, rng)
        xte, yte = _stratified_take(xte, yte, max(1, subsample // 5), rng)
    X = np.concatenate([xtr, xte]).astype(np.float32) / 255.0
    shape = (channels, *X.shape[-2:]) if X.ndim == 3 else tuple(X.shape[1:])
    y = np.concatenate([ytr, yte]).astype(np.int64)
    k = int(y.max()) + 1
    return Dataset(
        name,
        "binary" if k == 2 else "multiclass",
        X.reshape(len(X), -1),
        y,
        n_classes=k,
        image_shape=shape,  # type: ignore[arg-type]
        fixed_test=np.arange(len(xtr), len(X)),
    )


def _stratified_take(
    X: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if n >= len(y):
        return X, y
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(
        np.arange(len(y)), train_size=n, stratify=y, random_state=int(rng.integers(2**31))
    )
    idx = np.sort(idx)
    return X[idx], y[idx]


# --------------------------------------------------------------------------- registry
# name -> (loader, {param: (type, low, high)})
_SYN = {"n_samples": (int, 20, 1_000_000), "noise": (float, 0.0, 10.0), "data_seed": (int, 0, 2**31 - 1)}
_FILE = {"path": (str, None, None), "subsample": (int, 0, 10_000_000), "data_seed": (int, 0, 2**31 - 1)}
DATASETS: dict[str, tuple[Callable[..., Dataset], dict[str, tuple[type, Any, Any]]]] = {
    "digits": (_sk("load_digits", "multiclass", (1, 8, 8)), {}),
    "breast_cancer": (_sk("load_breast_cancer", "binary"), {}),
    "wine": (_sk("load_wine", "multiclass"), {}),
    "iris": (_sk("load_iris", "multiclass"), {}),
    "diabetes": (_sk("load_diabetes", "regression"), {}),
    "two_spirals": (_two_spirals, {**_SYN, "turns": (float, 0.25, 10.0)}),
    "moons": (_moons, dict(_SYN)),
    "circles": (_circles, {**_SYN, "factor": (float, 0.01, 0.99)}),
    "mnist": (_mnist, dict(_FILE)),
    "fashion_mnist": (_mnist, dict(_FILE)),
    "cifar10": (_cifar10, dict(_FILE)),
}
FILE_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def check_params(name: str, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Problems with a dataset's parameters: (field, problem, allowed values)."""
    spec = DATASETS[name][1]
    out = []
    for k, v in params.items():
        if k not in spec:
            allowed = ", ".join(spec) or "no parameters"
            out.append((k, f"unknown parameter {k!r} for dataset {name!r}", allowed))
            continue
        typ, lo, hi = spec[k]
        if typ is str:
            if not isinstance(v, str) or not v:
                out.append((k, f"got {v!r}", "a non-empty path string"))
            continue
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (typ is float or isinstance(v, int))
        if not ok or not lo <= v <= hi:
            kind = "an integer" if typ is int else "a number"
            out.append((k, f"got {v!r}", f"{kind} from {lo:g} to {hi:g}"))
    if name in FILE_DATASETS and "path" not in params:
        out.append(("path", f"dataset {name!r} needs a path", "the directory holding its files"))
    return out


_CACHE: dict[Any, Dataset] = {}


def load(choice: Any) -> Dataset:
    """Load a dataset from a ``DatasetChoice`` (or a name); cached per process."""
    from .config import DatasetChoice

    if isinstance(choice, str):
        choice = DatasetChoice(choice)
    key = (choice.name, choice.params)
    if key in _CACHE:
        return _CACHE[key]
    if choice.name not in DATASETS:
        raise DatasetError(f"unknown dataset {choice.name!r}; known: {', '.join(DATASETS)}")
    loader, _ = DATASETS[choice.name]
    ds = loader(choice.name, **dict(choice.params))
    ds.name = choice.label
    if len(ds.y) < 10:
        raise DatasetError(f"dataset {choice.label!r} has only {len(ds.y)} examples")
    _CACHE[key] = ds
    return ds


def split(ds: Dataset, seed: int, val: float = 0.2, test: float = 0.2) -> Split:
    """Stratified train / validation / test indices, fixed by ``seed``.

    Regression targets are stratified by quantile bins. A dataset with an
    official test set keeps it and splits validation off its training part.
    """
    n = len(ds.y)
    strata = _strata(ds)
    if ds.fixed_test is not None:
        te = np.asarray(ds.fixed_test)
        pool = np.setdiff1d(np.arange(n), te)
        tr, va = _tts(pool, val, seed, strata[pool])
        return Split(np.sort(tr), np.sort(va), np.sort(te))
    idx = np.arange(n)
    rest, te = _tts(idx, test, seed, strata)
    tr, va = _tts(rest, val / (1 - test), seed + 1, strata[rest])
    return Split(np.sort(tr), np.sort(va), np.sort(te))


def _tts(idx: np.ndarray, size: float, seed: int, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified where the class counts allow it (tiny sets fall back to a plain random split)."""
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(idx, test_size=size, random_state=seed, stratify=_safe(strata))
    except ValueError:
        return train_test_split(idx, test_size=size, random_state=seed)


def _strata(ds: Dataset) -> np.ndarray:
    if ds.task != "regression":
        return ds.y
    qs = np.quantile(ds.y, [0.2, 0.4, 0.6, 0.8])
    return np.digitize(ds.y, qs)


def _safe(strata: np.ndarray) -> np.ndarray | None:
    _, counts = np.unique(strata, return_counts=True)
    return strata if counts.min() >= 2 else None


def standardizer(ds: Dataset, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd per feature (per channel for images), fitted on the training indices only."""
    X = ds.X[train].astype(np.float64)
    if ds.image_shape is not None:
        c = ds.image_shape[0]
        per = X.reshape(len(X), c, -1)
        mu = np.repeat(per.mean(axis=(0, 2)), per.shape[2])
        sd = np.repeat(per.std(axis=(0, 2)), per.shape[2])
    else:
        mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd < 1e-8, 1.0, sd)
    return mu, sd


def target_scaler(ds: Dataset, train: np.ndarray) -> tuple[float, float]:
    """Regression targets are standardised on train too (loss in standard units; R^2 unchanged)."""
    if ds.task != "regression":
        return 0.0, 1.0
    y = ds.y[train].astype(np.float64)
    sd = float(y.std())
    return float(y.mean()), sd if sd > 1e-12 else 1.0
