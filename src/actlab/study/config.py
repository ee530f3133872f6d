"""Study configuration: the default study, TOML loading and validation.

A configuration is validated completely before any training starts. Every
error names the field, the allowed values and, for a TOML file, the line::

    study.toml:14: training.lr_grid[1]: must be a positive number, got -0.1

Activations are catalog names, optionally with parameters (``"elu"``,
``"elu:alpha=0.5"``, ``{name = "elu", alpha = 0.5}``), or ``[[activation]]``
tables defined by a formula (``actlab.functions.formula.define``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from ..core.errors import ActlabError, ConfigError, ParameterError, UnknownActivationError

#: Bumped whenever the trainer changes in a way that changes results: part of every trial key.
TRAINER_VERSION = 1

DEFAULT_ACTIVATIONS = ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "sigmoid")
DEFAULT_DATASETS = ("digits", "breast_cancer", "two_spirals")

OPTIMIZERS = ("adam", "sgd")
MONITORS = ("val_loss", "val_metric")
MODEL_KINDS = ("auto", "mlp", "cnn")
DTYPES = ("float32", "float64")
TOP_KEYS = (
    "name",
    "description",
    "baseline",
    "seeds",
    "activations",
    "activation",
    "datasets",
    "dataset",
    "model",
    "training",
    "split",
)


# --------------------------------------------------------------------------- choices
@dataclass(frozen=True)
class ActivationChoice:
    """One candidate: a catalog name with parameters, or a formula-defined activation."""

    name: str
    params: tuple[tuple[str, float], ...] = ()
    formula: str | None = None
    formula_params: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v:g}' for k, v in self.params)})"

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "params": dict(self.params)}
        if self.formula is not None:
            d["formula"] = self.formula
            d["formula_params"] = dict(self.formula_params)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ActivationChoice:
        return cls(
            d["name"],
            tuple(sorted(d.get("params", {}).items())),
            d.get("formula"),
            tuple(sorted(d.get("formula_params", {}).items())),
        )

    def resolve(self) -> Any:
        """The bound ``actlab.Activation``; defines a formula activation first if needed."""
        import actlab

        if self.formula is not None:
            _ensure_formula(self.name, self.formula, dict(self.formula_params))
        return actlab.get(self.name, **dict(self.params))


def _ensure_formula(name: str, formula: str, params: dict[str, float]) -> None:
    """Register a formula activation (idempotent: the same formula under the same name is a no-op)."""
    import actlab

    try:
        existing = actlab.spec(name)
    except UnknownActivationError:
        existing = None
    if existing is not None and existing.family != "user":
        raise ConfigError(
            f"activation {name!r} defined by a formula collides with the catalog entry of that name; "
            f"choose another name"
        )
    try:
        from ..functions import formula as formula_mod  # lazy: the formula parser
    except ImportError as e:  # pragma: no cover - depends on the formula module being present
        raise ConfigError(
            f"activation {name!r}: formula activations need actlab.functions.formula ({e})"
        ) from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numerical notes on the formula are the CLI's `define` business
        formula_mod.define(formula, name=name, params=params)


@dataclass(frozen=True)
class DatasetChoice:
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        shown = [(k, v) for k, v in self.params if k != "path"]
        if not shown:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in shown)})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetChoice:
        return cls(d["name"], tuple(sorted(d.get("params", {}).items())))


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "auto"  # "mlp", "cnn", or "auto" (cnn for image data when asked, else mlp)
    depth: int = 2
    width: int = 64
    batch_norm: bool = False
    dropout: float = 0.0
    channels: tuple[int, ...] = (16, 32)


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"
    lr_grid: tuple[float, ...] = (3e-3, 1e-2, 3e-2)
    batch_size: int = 64
    max_epochs: int = 60
    patience: int = 8
    monitor: str = "val_loss"
    weight_decay: float = 0.0
    momentum: float = 0.9
    dtype: str = "float32"


@dataclass(frozen=True)
class SplitConfig:
    val: float = 0.2
    test: float = 0.2


@dataclass(frozen=True)
class StudyConfig:
    name: str = "default"
    description: str = ""
    baseline: str = "relu"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    activations: tuple[ActivationChoice, ...] = ()
    datasets: tuple[DatasetChoice, ...] = ()
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    source: str | None = None  # the file it came from; not part of its identity

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "baseline": self.baseline,
            "seeds": list(self.seeds),
            "activations": [a.as_dict() for a in self.activations],
            "datasets": [d.as_dict() for d in self.datasets],
            "model": _plain(asdict(self.model)),
            "training": _plain(asdict(self.training)),
            "split": asdict(self.split),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StudyConfig:
        m = dict(d["model"])
        m["channels"] = tuple(m.get("channels", (16, 32)))
        t = dict(d["training"])
        t["lr_grid"] = tuple(t["lr_grid"])
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            baseline=d["baseline"],
            seeds=tuple(d["seeds"]),
            activations=tuple(ActivationChoice.from_dict(a) for a in d["activations"]),
            datasets=tuple(DatasetChoice.from_dict(x) for x in d["datasets"]),
            model=ModelConfig(**m),
            training=TrainConfig(**t),
            split=SplitConfig(**d["split"]),
        )

    @property
    def key(self) -> str:
        """A hash of everything that determines the results (not the file name)."""
        return digest({"trainer": TRAINER_VERSION, **self.as_dict()})

    @property
    def baseline_label(self) -> str:
        return self.baseline

    def trial_config(
        self, dataset: DatasetChoice, activation: ActivationChoice, seed: int, lr: float
    ) -> dict[str, Any]:
        """The full configuration of one trial; its hash is the trial's key in the store."""
        training = _plain(asdict(self.training))
        training.pop("lr_grid")
        return {
            "trainer": TRAINER_VERSION,
            "dataset": dataset.as_dict(),
            "activation": activation.as_dict(),
            "model": _plain(asdict(self.model)),
            "training": training,
            "split": asdict(self.split),
            "seed": int(seed),
            "lr": float(lr),
        }

    @property
    def n_trials(self) -> int:
        return len(self.datasets) * len(self.activations) * len(self.seeds) * len(self.training.lr_grid)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=float)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- defaults
def default_config(*, available_only: bool = True) -> StudyConfig:
    """The default study: bundled data, nine common activations, 5 seeds x 3 learning rates.

    With ``available_only`` a default activation not (yet) in the catalog is left
    out rather than failing.
    """
    import actlab

    known = set(actlab.names()) if available_only else set(DEFAULT_ACTIVATIONS)
    acts = tuple(ActivationChoice(n) for n in DEFAULT_ACTIVATIONS if n in known)
    return StudyConfig(
        name="default",
        description="Nine common activations on digits, breast cancer and two spirals (bundled data).",
        activations=acts,
        datasets=tuple(DatasetChoice(n) for n in DEFAULT_DATASETS),
        model=ModelConfig(kind="mlp", depth=2, width=64),
        training=TrainConfig(),
    )


# --------------------------------------------------------------------------- loading
class _Where:
    """Finds the line of a field in the TOML source, for error messages."""

    def __init__(self, text: str | None, source: str | None) -> None:
        self.text = text
        self.source = source
        self.lines = text.splitlines() if text else []

    def prefix(self, path: Sequence[Any]) -> str:
        line = self.line(path) if self.text else None
        src = self.source or "config"
        return f"{src}:{line}: " if line else f"{src}: "

    def line(self, path: Sequence[Any]) -> int | None:
        try:
            return _find_line(self.lines, list(path))
        except Exception:  # pragma: no cover - locating is best effort
            return None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*=")


def _find_line(lines: list[str], path: list[Any]) -> int | None:
    """1-based line of ``path`` (keys and list indices) in TOML source ``lines``."""
    # Split the path into the table part and the key part.
    table: list[Any] = []
    rest = list(path)
    # [[activation]] / [[dataset]] arrays of tables, and [model]-style tables.
    if rest and rest[0] in ("activation", "dataset") and len(rest) >= 2 and isinstance(rest[1], int):
        table, rest = rest[:2], rest[2:]
    elif rest and rest[0] in ("model", "training", "split") and len(rest) >= 1:
        table, rest = rest[:1], rest[1:]
    current: list[Any] = []
    counts: dict[str, int] = {}
    header_line: int | None = None
    key_line: int | None = None
    for i, raw in enumerate(lines):
        m = _HEADER.match(raw)
        if m and not _KEY.match(raw):
            name = m.group(2).strip().strip("\"'")
            if m.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                current = [name, counts[name]]
            else:
                current = [name]
            if current == table:
                header_line = i + 1
            continue
        if current != table or not rest:
            continue
        km = _KEY.match(raw)
        if km and km.group(1).strip("\"'") == str(rest[0]):
            key_line = i + 1
            break
    if key_line is None:
        return header_line
    if len(rest) >= 2 and isinstance(rest[1], int):
        return _element_line(lines, key_line, rest[1]) or key_line
    return key_line


def _element_line(lines: list[str], key_line: int, index: int) -> int | None:
    """Line of the index-th top-level element of the array that starts on ``key_line``."""
    text = "\n".join(lines[key_line - 1 :])
    start = text.find("=")
    depth, n, line, in_str, seen_value = 0, 0, key_line, None, False
    for ch in text[start + 1 :]:
        if ch == "\n":
            line += 1
            continue
        if in_str:
            if ch == in_str:
                in_str = None
            continue
        if ch in "\"'":
            in_str = ch
            if depth == 1 and n == index:
                return line
            continue
        if ch in "[{":
            depth += 1
            if depth == 2 and n == index:
                return line
            continue
        if ch in "]}":
            depth -= 1
            if depth == 0:
                return None
            continue
        if ch == "," and depth == 1:
            n += 1
            continue
        if depth == 1 and n == index and not ch.isspace() and ch != "#":
            seen_value = True
            return line
    return None if not seen_value else line


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a TOML study configuration; raises ``ConfigError`` on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file ({e})") from None
    return parse_config(text, source=str(p))


def parse_config(text: str, source: str | None = None) -> StudyConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        where = f"{source or 'config'}:{m.group(1)}" if m else (source or "config")
        raise ConfigError(f"{where}: invalid TOML: {e}") from None
    return config_from_dict(raw, _Where(text, source), source=source)


def config_from_dict(
    raw: Mapping[str, Any], where: _Where | None = None, source: str | None = None
) -> StudyConfig:
    """Validate a plain dict (as read from TOML) into a ``StudyConfig``."""
    w = where or _Where(None, source)
    v = _Validator(w)
    unknown = [k for k in raw if k not in TOP_KEYS]
    for k in unknown:
        v.fail([k], f"unknown field {k!r}", f"allowed fields: {', '.join(TOP_KEYS)}")
    default = default_config()
    name = v.string(raw, ["name"], "default")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}", name):
        v.fail(
            ["name"],
            f"invalid study name {name!r}",
            "1-64 letters, digits, '_', '.', '-' or spaces, starting with a letter or digit",
        )
    description = v.string(raw, ["description"], "")
    seeds = v.seeds(raw)
    activations = v.activations(raw, default.activations)
    datasets = v.datasets(raw, default.datasets)
    model = v.model(raw.get("model", {}))
    training = v.training(raw.get("training", {}))
    split = v.split(raw.get("split", {}))
    baseline = v.string(raw, ["baseline"], "relu")
    labels = [a.label for a in activations]
    if len(set(labels)) != len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        v.fail(["activations"], f"activation(s) listed twice: {', '.join(dup)}", "each candidate once")
    if activations and baseline not in labels:
        # accept an alias or a canonical spelling of the baseline
        canon = None
        try:
            import actlab

            canon = actlab.get(baseline).name
        except ActlabError:
            pass
        if canon in labels:
            baseline = canon
        else:
            v.fail(
                ["baseline"],
                f"baseline {baseline!r} is not among the activations",
                f"one of: {', '.join(labels)}",
            )
    v.raise_if_any()
    return StudyConfig(
        name=name,
        description=description,
        baseline=baseline,
        seeds=seeds,
        activations=activations,
        datasets=datasets,
        model=model,
        training=training,
        split=split,
        source=source,
    )


class _Validator:
    def __init__(self, where: _Where) -> None:
        self.w = where
        self.errors: list[str] = []

    def fail(self, path: Sequence[Any], problem: str, allowed: str) -> None:
        self.errors.append(f"{self.w.prefix(path)}{_dotted(path)}: {problem} (allowed: {allowed})")

    def raise_if_any(self) -> None:
        if self.errors:
            head = "invalid study configuration:\n  " if len(self.errors) > 1 else ""
            raise ConfigError(head + "\n  ".join(self.errors))

    # -- scalars
    def string(self, d: Mapping[str, Any], path: list[Any], default: str) -> str:
        val = d.get(path[-1], default)
        if not isinstance(val, str):
            self.fail(path, f"expected a string, got {val!r}", "a string")
            return default
        return val

    def integer(self, d: Mapping[str, Any], path: list[Any], default: int, low: int, high: int) -> int:
        val = d.get(path[-1], default)
        if isinstance(val, bool) or not isinstance(val, int) or not low <= val <= high:
            self.fail(path, f"got {val!r}", f"an integer from {low} to {high}")
            return default
        return val

    def number(
        self,
        d: Mapping[str, Any],
        path: list[Any],
        default: float,
        low: float,
        high: float,
        open_low: bool = False,
        open_high: bool = False,
    ) -> float:
        val = d.get(path[-1], default)
        ok = isinstance(val, (int, float)) and not isinstance(val, bool) and math.isfinite(val)
        if ok:
            ok = (val > low if open_low else val >= low) and (val < high if open_high else val <= high)
        if not ok:
            lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
            self.fail(path, f"got {val!r}", f"a number in {lo}{low:g}, {high:g}{hi}")
            return default
        return float(val)

    def boolean(self, d: Mapping[str, Any], path: list[Any], default: bool) -> bool:
        val = d.get(path[-1], default)
        if not isinstance(val, bool):
            self.fail(path, f"got {val!r}", "true or false")
            return default
        return val

    def choice(self, d: Mapping[str, Any], path: list[Any], default: str, allowed: Sequence[str]) -> str:
        val = d.get(path[-1], default)
        if val not in allowed:
            self.fail(path, f"got {val!r}", ", ".join(map(repr, allowed)))
            return default
        return val

    def table(self, d: Any, path: list[Any], allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(d, Mapping):
            self.fail(path, f"expected a table, got {d!r}", f"a table with keys {', '.join(allowed)}")
            return {}
        for k in d:
            if k not in allowed:
                self.fail([*path, k], f"unknown field {k!r}", ", ".join(allowed))
        return dict(d)

    # -- sections
    def seeds(self, raw: Mapping[str, Any]) -> tuple[int, ...]:
        val = raw.get("seeds", 5)
        if isinstance(val, int) and not isinstance(val, bool) and 1 <= val <= 1000:
            return tuple(range(val))
        if (
            isinstance(val, list)
            and val
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31 for s in val)
            and len(set(val)) == len(val)
        ):
            return tuple(val)
        self.fail(
            ["seeds"], f"got {val!r}", "a count from 1 to 1000, or a non-empty list of distinct integers >= 0"
        )
        return (0,)

    def activations(
        self, raw: Mapping[str, Any], default: tuple[ActivationChoice, ...]
    ) -> tuple[ActivationChoice, ...]:
        out: list[ActivationChoice] = []
        listed = raw.get("activations")
        tables = raw.get("activation", [])
        if listed is None and not tables:
            return default
        if listed is not None:
            if not isinstance(listed, list):
                self.fail(
                    ["activations"],
                    f"expected a list, got {listed!r}",
                    'names like "relu", "elu:alpha=0.5" or tables {name = "elu", alpha = 0.5}',
                )
                listed = []
            for i, item in enumerate(listed):
                choice = self._activation_item(item, ["activations", i])
                if choice is not None:
                    out.append(choice)
        if not isinstance(tables, list):
            self.fail(
                ["activation"], "expected [[activation]] tables", "[[activation]] with name, formula, params"
            )
            tables = []
        for i, t in enumerate(tables):
            choice = self._formula_item(t, ["activation", i])
            if choice is not None:
                out.append(choice)
        if not out and not self.errors:
            self.fail(["activations"], "no activations given", "at least one activation")
        return tuple(out)

    def _activation_item(self, item: Any, path: list[Any]) -> ActivationChoice | None:
        if isinstance(item, str):
            name, params = _parse_name_params(item, lambda msg: self.fail(path, msg, _NAME_FORMAT))
            if name is None:
                return None
        elif isinstance(item, Mapping):
            if "name" not in item or not isinstance(item["name"], str):
                self.fail(
                    path,
                    f"activation table without a name: {dict(item)!r}",
                    'a table like {name = "elu", alpha = 0.5}',
                )
                return None
            if "formula" in item:
                return self._formula_item(item, path)
            name = item["name"]
            params = {k: v for k, v in item.items() if k != "name"}
        else:
            self.fail(path, f"got {item!r}", _NAME_FORMAT)
            return None
        return self._bind(name, params, path)

    def _bind(self, name: str, params: dict[str, Any], path: list[Any]) -> ActivationChoice | None:
        import actlab

        try:
            act = actlab.get(name, **params)
        except UnknownActivationError as e:
            self.fail(path, str(e), "a catalog name (actlab list) or an [[activation]] formula table")
            return None
        except ParameterError as e:
            self.fail(path, str(e), "the activation's parameters within their ranges")
            return None
        except ActlabError as e:
            self.fail(path, str(e), "a valid activation")
            return None
        if not act.is_elementwise:
            self.fail(
                path,
                f"{act.name} is vector-valued; the study compares elementwise activations",
                "an elementwise activation",
            )
            return None
        # Keep only the parameters the user gave (canonical values), so labels stay short.
        given = tuple(sorted((k, float(act.params[k])) for k in params))
        return ActivationChoice(act.name, given)

    def _formula_item(self, t: Any, path: list[Any]) -> ActivationChoice | None:
        allowed = ("name", "formula", "params")
        t = self.table(t, path, allowed)
        name, formula = t.get("name"), t.get("formula")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,39}", name):
            self.fail([*path, "name"], f"got {name!r}", "an identifier (letters, digits, _)")
            return None
        if not isinstance(formula, str) or not formula.strip():
            self.fail([*path, "formula"], f"got {formula!r}", 'a formula in x, e.g. "x * sigmoid(beta * x)"')
            return None
        params = t.get("params", {})
        if not isinstance(params, Mapping) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()
        ):
            self.fail(
                [*path, "params"], f"got {params!r}", "a table of parameter defaults, e.g. {beta = 1.0}"
            )
            return None
        choice = ActivationChoice(name, (), formula, tuple(sorted((k, float(v)) for k, v in params.items())))
        try:
            choice.resolve()
        except ActlabError as e:
            self.fail([*path, "formula"], str(e), "a formula the parser accepts (actlab define --help)")
            return None
        return choice

    def datasets(
        self, raw: Mapping[str, Any], default: tuple[DatasetChoice, ...]
    ) -> tuple[DatasetChoice, ...]:
        from .datasets import DATASETS, check_params

        listed = raw.get("datasets")
        tables = raw.get("dataset", [])
        if listed is None and not tables:
            return default
        out: list[DatasetChoice] = []
        items: list[tuple[Any, list[Any]]] = []
        if listed is not None:
            if not isinstance(listed, list):
                self.fail(["datasets"], f"expected a list, got {listed!r}", ", ".join(DATASETS))
                listed = []
            items += [(x, ["datasets", i]) for i, x in enumerate(listed)]
        if not isinstance(tables, list):
            tables = []
        items += [(x, ["dataset", i]) for i, x in enumerate(tables)]
        for item, path in items:
            if isinstance(item, str):
                name, params = item, {}
            elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
                name, params = item["name"], {k: v for k, v in item.items() if k != "name"}
            else:
                self.fail(path, f"got {item!r}", "a dataset name or a table with a name")
                continue
            key = name.strip().lower().replace("-", "_")
            if key not in DATASETS:
                import difflib

                close = difflib.get_close_matches(key, list(DATASETS), n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                self.fail(path, f"unknown dataset {name!r}{hint}", ", ".join(DATASETS))
                continue
            problems = check_params(key, params)
            for field_name, problem, allowed in problems:
                self.fail([*path, field_name] if path[0] == "dataset" else path, problem, allowed)
            if not problems:
                out.append(DatasetChoice(key, tuple(sorted(params.items()))))
        labels = [d.label for d in out]
        if len(set(labels)) != len(labels):
            self.fail(["datasets"], "a dataset is listed twice", "each dataset once")
        if not out and not self.errors:
            self.fail(["datasets"], "no datasets given", ", ".join(DATASETS))
        return tuple(out)

    def model(self, d: Any) -> ModelConfig:
        allowed = ("kind", "depth", "width", "batch_norm", "dropout", "channels")
        d = self.table(d, ["model"], allowed)
        base = ModelConfig()
        channels = d.get("channels", list(base.channels))
        if not (
            isinstance(channels, list)
            and 1 <= len(channels) <= 4
            and all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 512 for c in channels)
        ):
            self.fail(["model", "channels"], f"got {channels!r}", "a list of 1-4 integers from 1 to 512")
            channels = list(base.channels)
        return ModelConfig(
            kind=self.choice(d, ["model", "kind"], base.kind, MODEL_KINDS),
            depth=self.integer(d, ["model", "depth"], base.depth, 1, 64),
            width=self.integer(d, ["model", "width"], base.width, 1, 8192),
            batch_norm=self.boolean(d, ["model", "batch_norm"], base.batch_norm),
            dropout=self.number(d, ["model", "dropout"], base.dropout, 0.0, 1.0, open_high=True),
            channels=tuple(channels),
        )

    def training(self, d: Any) -> TrainConfig:
        allowed = (
            "optimizer",
            "lr_grid",
            "batch_size",
            "max_epochs",
            "patience",
            "monitor",
            "weight_decay",
            "momentum",
            "dtype",
        )
        d = self.table(d, ["training"], allowed)
        base = TrainConfig()
        grid = d.get("lr_grid", list(base.lr_grid))
        if isinstance(grid, (int, float)) and not isinstance(grid, bool):
            grid = [grid]
        lrs: list[float] = []
        if not isinstance(grid, list) or not grid:
            self.fail(
                ["training", "lr_grid"], f"got {grid!r}", "a non-empty list of learning rates in (0, 10]"
            )
        else:
            for i, lr in enumerate(grid):
                if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
                    self.fail(["training", "lr_grid", i], f"got {lr!r}", "a learning rate in (0, 10]")
                else:
                    lrs.append(float(lr))
            if len(set(lrs)) != len(lrs):
                self.fail(["training", "lr_grid"], "a learning rate is listed twice", "distinct values")
        return TrainConfig(
            optimizer=self.choice(d, ["training", "optimizer"], base.optimizer, OPTIMIZERS),
            lr_grid=tuple(lrs) or base.lr_grid,
            batch_size=self.integer(d, ["training", "batch_size"], base.batch_size, 2, 1_000_000),
            max_epochs=self.integer(d, ["training", "max_epochs"], base.max_epochs, 1, 100_000),
            patience=self.integer(d, ["training", "patience"], base.patience, 1, 100_000),
            monitor=self.choice(d, ["training", "monitor"], base.monitor, MONITORS),
            weight_decay=self.number(d, ["training", "weight_decay"], base.weight_decay, 0.0, 1.0),
            momentum=self.number(d, ["training", "momentum"], base.momentum, 0.0, 1.0, open_high=True),
            dtype=self.choice(d, ["training", "dtype"], base.dtype, DTYPES),
        )

    def split(self, d: Any) -> SplitConfig:
        d = self.table(d, ["split"], ("val", "test"))
        base = SplitConfig()
        val = self.number(d, ["split", "val"], base.val, 0.0, 0.5, open_low=True, open_high=True)
        test = self.number(d, ["split", "test"], base.test, 0.0, 0.5, open_low=True, open_high=True)
        if val + test >= 0.8:
            self.fail(
                ["split"], f"val + test = {val + test:g} leaves too little to train on", "val + test < 0.8"
            )
        return SplitConfig(val=val, test=test)


_NAME_FORMAT = 'a name like "relu" or "elu:alpha=0.5", or a table like {name = "elu", alpha = 0.5}'


def _parse_name_params(text: str, fail: Any) -> tuple[str | None, dict[str, float]]:
    """``"elu:alpha=0.5,..."`` -> ("elu", {"alpha": 0.5})."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        fail(f"empty activation name in {text!r}")
        return None, {}
    params: dict[str, float] = {}
    if rest.strip():
        for part in rest.split(","):
            k, eq, val = part.partition("=")
            k = k.strip()
            try:
                if not eq or not k:
                    raise ValueError
                params[k] = float(val)
            except ValueError:
                fail(f"cannot read parameter {part.strip()!r} in {text!r}")
                return None, {}
    return name, params


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
