"""The comparison study: train the same network with each candidate activation, fairly, and report.

>>> from actlab.study import default_config, run_study        # doctest: +SKIP
>>> outcome = run_study(default_config(), store_path="actlab-runs/actlab.db")
>>> outcome.analysis.recommendation["activation"], outcome.report["html"]

Each activation gets its own learning rate, chosen on validation; early
stopping is on validation; test metrics are computed once, at the end. The
seeds x learning-rate grid of an activation trains as one batched model
(:mod:`actlab.study.trainer`). Every trial is stored in SQLite, keyed by its
configuration (:mod:`actlab.study.store`), so a rerun resumes. Importing this
package does not import torch.
"""

from .config import (
    DEFAULT_ACTIVATIONS,
    DEFAULT_DATASETS,
    ActivationChoice,
    DatasetChoice,
    ModelConfig,
    SplitConfig,
    StudyConfig,
    TrainConfig,
    default_config,
    load_config,
    parse_config,
)
from .datasets import DATASETS, Dataset, load, read_idx, split, standardizer
from .runner import Outcome, check, load_analysis, plan, run_study, summarize_store
from .stats import Analysis, analyze
from .store import DEFAULT_STORE, Store

__all__ = [
    "DATASETS",
    "DEFAULT_ACTIVATIONS",
    "DEFAULT_DATASETS",
    "DEFAULT_STORE",
    "ActivationChoice",
    "Analysis",
    "Dataset",
    "DatasetChoice",
    "ModelConfig",
    "Outcome",
    "SplitConfig",
    "Store",
    "StudyConfig",
    "TrainConfig",
    "analyze",
    "check",
    "default_config",
    "load",
    "load_analysis",
    "load_config",
    "parse_config",
    "plan",
    "read_idx",
    "run_study",
    "split",
    "standardizer",
    "summarize_store",
]
