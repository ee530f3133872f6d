"""The ensembled trainer: the seeds x learning-rate grid of one activation as one batched model.

Every weight carries a leading member axis ``E``; linear layers are
``torch.baddbmm``, convolutions are grouped (``groups=E``), batch-norm runs
over ``E * channels`` independent channels, and an elementwise activation
applies unchanged. Each member has its own data split, batch order,
initialisation, learning rate, Adam state, early stopping and divergence
check, so a member computes exactly what a separate run would compute
(:func:`train_reference` is that separate, plain PyTorch loop; the two agree
to float tolerance, see ``tests/test_study_trainer.py`` and
``benchmarks/ensemble.py``). Members that stop are evaluated on their best
checkpoint and removed from the batch, so finished members cost nothing.

Dropout masks come from one generator for the whole ensemble, so with
dropout > 0 the ensemble and the reference loop are equivalent in
distribution, not bit for bit.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import ActivationChoice, DatasetChoice, ModelConfig, SplitConfig, TrainConfig, digest
from .datasets import Dataset, load, split, standardizer, target_scaler

DEAD_TOL = 1e-8  # |f'| at or below this on every probe example: a dead unit
SAT_FRACTION = 0.05  # |f'| below this fraction of the activation's peak slope: saturated
PROBE = 256  # validation examples per member used for the gradient-health probe
EVAL_CHUNK = 2048
PRESCALE_BYTES = 256 * 2**20  # standardise once per seed up to this size, else batch by batch


@dataclass
class Member:
    seed: int
    lr: float
    key: str = ""


@dataclass
class Unit:
    """One batch of work: some (seed, lr) members of one dataset x activation."""

    dataset: DatasetChoice
    activation: ActivationChoice
    model: ModelConfig
    training: TrainConfig
    split: SplitConfig
    members: list[Member]
    health: bool = True


@dataclass
class TrialResult:
    key: str
    dataset: str
    activation: str
    seed: int
    lr: float
    metric: str
    status: str  # "ok" or "diverged"
    diverged_epoch: int | None
    best_epoch: int
    epochs_run: int
    val_loss: float
    val_metric: float
    test_loss: float
    test_metric: float
    train_time: float
    epochs_to_95: int | None
    health: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- activation
def torch_activation(choice: ActivationChoice) -> Any:
    """An ``nn.Module`` for the activation: ``actlab.torch.Activation`` where available."""
    act = choice.resolve()
    TorchActivation: Any
    try:
        from actlab.torch import Activation as TorchActivation  # lazy: the torch layer
    except ImportError:
        TorchActivation = None  # noqa: N806
    if TorchActivation is not None:
        # Fixed parameters: every candidate is compared at the values the config gives it, and a
        # learnable parameter shared across ensemble members would couple them.
        return TorchActivation(act.name, learnable=False, **act.params)
    return _CatalogModule(act)


def _catalog_module_class() -> Any:
    import torch

    class CatalogActivation(torch.nn.Module):
        """Applies a catalog activation to a tensor; differentiated by torch autograd."""

        def __init__(self, act: Any) -> None:
            super().__init__()
            self.act = act

        def forward(self, x: Any) -> Any:
            return self.act(x)

        def extra_repr(self) -> str:
            return repr(self.act)

    return CatalogActivation


def _CatalogModule(act: Any) -> Any:  # noqa: N802 - a class factory
    return _catalog_module_class()(act)


def init_gain(act: Any) -> tuple[float, str]:
    """The activation's weight-init gain and where it came from.

    ``actlab.analysis.init_gain`` where available; otherwise the
    variance-preserving gain 1 / sqrt(E[f(z)^2]), z ~ N(0, 1), by Gauss-Hermite quadrature.
    """
    try:
        from actlab.analysis import init_gain as analysis_gain  # lazy: the analysis layer
    except ImportError:
        analysis_gain = None
    if analysis_gain is not None:
        try:
            g = float(analysis_gain(act))
        except (ValueError, ArithmeticError):  # no finite gain from the analysis: use the quadrature
            g = math.nan
        if math.isfinite(g) and g > 0:
            return g, "actlab.analysis.init_gain"
    z, w = np.polynomial.hermite_e.hermegauss(120)
    with np.errstate(all="ignore"):
        m2 = float(np.sum(w * np.asarray(act(z), dtype=np.float64) ** 2) / np.sqrt(2 * np.pi))
    g = 1.0 / math.sqrt(m2) if m2 > 1e-12 and math.isfinite(m2) else 1.0
    return g, "quadrature 1/sqrt(E f(z)^2)"


def peak_slope(act: Any) -> float:
    x = np.linspace(-8, 8, 4001)
    with np.errstate(all="ignore"):
        d = np.abs(np.asarray(act.derivative(x), dtype=np.float64))
    d = d[np.isfinite(d)]
    p = float(d.max()) if d.size else 1.0
    return p if p > 0 else 1.0


# --------------------------------------------------------------------------- architecture
@dataclass(frozen=True)
class Arch:
    kind: str  # "mlp" or "cnn"
    d_in: int
    n_out: int
    depth: int
    width: int
    batch_norm: bool
    dropout: float
    channels: tuple[int, ...] = ()
    image_shape: tuple[int, int, int] | None = None

    def _convs(self) -> tuple[list[tuple[int, int, bool]], int]:
        assert self.image_shape is not None
        c, h, w = self.image_shape
        out = []
        for co in self.channels:
            pool = h >= 2 and w >= 2
            out.append((c, co, pool))
            c = co
            if pool:
                h, w = h // 2, w // 2
        return out, c * h * w

    def conv_plan(self) -> list[tuple[int, int, bool]]:
        """(c_in, c_out, pool) per conv layer."""
        return self._convs()[0]

    @property
    def flat(self) -> int:
        return self._convs()[1]

    @property
    def dense_layers(self) -> list[tuple[int, int]]:
        if self.kind == "cnn":
            return [(self.flat, self.width)]
        dims = [self.d_in] + [self.width] * self.depth
        return list(zip(dims[:-1], dims[1:], strict=True))


def make_arch(ds: Dataset, model: ModelConfig) -> Arch:
    from ..core.errors import ConfigError

    kind = model.kind
    if kind == "auto":
        kind = "cnn" if ds.image_shape is not None and min(ds.image_shape[1:]) >= 16 else "mlp"
    if kind == "cnn" and ds.image_shape is None:
        raise ConfigError(
            f"model.kind = 'cnn' needs image data; dataset {ds.name!r} is tabular "
            "(allowed: 'mlp' or 'auto' for it)"
        )
    return Arch(
        kind,
        ds.X.shape[1],
        ds.n_outputs,
        model.depth,
        model.width,
        model.batch_norm,
        model.dropout,
        tuple(model.channels),
        ds.image_shape if kind == "cnn" else None,
    )


def member_init(arch: Arch, seed: int, gain: float, dtype: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One member's initial parameters and buffers (no member axis), drawn from its seed.

    Hidden weights ~ N(0, gain^2 / fan_in) with the activation's own gain; the
    output layer uses gain 1; biases start at 0, batch-norm at (1, 0).
    """
    import torch

    g = torch.Generator().manual_seed(1_000_003 * int(seed) + 12_345)
    P: dict[str, Any] = {}
    B: dict[str, Any] = {}

    def normal(shape: tuple[int, ...], std: float) -> Any:
        return (torch.randn(shape, generator=g, dtype=torch.float64) * std).to(dtype)

    if arch.kind == "cnn":
        for j, (ci, co, _) in enumerate(arch.conv_plan()):
            P[f"K{j}"] = normal((co, ci, 3, 3), gain / math.sqrt(ci * 9))
            P[f"kb{j}"] = torch.zeros(co, dtype=dtype)
            if arch.batch_norm:
                P[f"kg{j}"], P[f"kbeta{j}"] = torch.ones(co, dtype=dtype), torch.zeros(co, dtype=dtype)
                B[f"krm{j}"], B[f"krv{j}"] = torch.zeros(co, dtype=dtype), torch.ones(co, dtype=dtype)
    for i, (di, do) in enumerate(arch.dense_layers):
        P[f"W{i}"] = normal((di, do), gain / math.sqrt(di))
        P[f"b{i}"] = torch.zeros(1, do, dtype=dtype)
        if arch.batch_norm:
            P[f"g{i}"], P[f"beta{i}"] = torch.ones(do, dtype=dtype), torch.zeros(do, dtype=dtype)
            B[f"rm{i}"], B[f"rv{i}"] = torch.zeros(do, dtype=dtype), torch.ones(do, dtype=dtype)
    last = arch.dense_layers[-1][1]
    P["Wo"] = normal((last, arch.n_out), 1.0 / math.sqrt(last))
    P["bo"] = torch.zeros(1, arch.n_out, dtype=dtype)
    return P, B


def ensemble_forward(
    arch: Arch,
    act: Any,
    P: dict[str, Any],
    Bf: dict[str, Any],
    x: Any,
    train: bool,
    capture: list[Any] | None = None,
) -> Any:
    """Forward pass of E members at once; ``x`` is (E, batch, d_in). Returns (E, batch, n_out)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    E, nb = x.shape[0], x.shape[1]
    h = x
    if arch.kind == "cnn":
        c, hh, ww = arch.image_shape  # type: ignore[misc]
        h = x.reshape(E, nb, c, hh, ww).transpose(0, 1).reshape(nb, E * c, hh, ww)
        for j, (ci, co, pool) in enumerate(arch.conv_plan()):
            z = F.conv2d(
                h, P[f"K{j}"].reshape(E * co, ci, 3, 3), P[f"kb{j}"].reshape(-1), padding=1, groups=E
            )
            if arch.batch_norm:
                z = F.batch_norm(
                    z,
                    Bf[f"krm{j}"].view(-1),
                    Bf[f"krv{j}"].view(-1),
                    P[f"kg{j}"].reshape(-1),
                    P[f"kbeta{j}"].reshape(-1),
                    train,
                    0.1,
                    1e-5,
                )
            if capture is not None:
                capture.append(z.reshape(nb, E, co, -1).transpose(0, 1).reshape(E, nb, -1))
            h = act(z)
            if pool:
                h = F.max_pool2d(h, 2)
        h = h.reshape(nb, E, -1).transpose(0, 1)
    for i, (_, do) in enumerate(arch.dense_layers):
        z = torch.baddbmm(P[f"b{i}"], h, P[f"W{i}"])
        if arch.batch_norm:
            zt = z.transpose(0, 1).reshape(nb, E * do)
            zt = F.batch_norm(
                zt,
                Bf[f"rm{i}"].view(-1),
                Bf[f"rv{i}"].view(-1),
                P[f"g{i}"].reshape(-1),
                P[f"beta{i}"].reshape(-1),
                train,
                0.1,
                1e-5,
            )
            z = zt.reshape(nb, E, do).transpose(0, 1)
        if capture is not None:
            capture.append(z)
        h = act(z)
        if arch.dropout > 0 and train:
            h = F.dropout(h, arch.dropout, True)
    return torch.baddbmm(P["bo"], h, P["Wo"])


def reference_module(arch: Arch, act_module: Any, P: dict[str, Any], Bf: dict[str, Any]) -> Any:
    """The same network for one member as a plain ``nn.Sequential``, loaded with its initial weights."""
    from torch import nn

    dtype = P["Wo"].dtype  # build in the run's dtype: a float32 layer would round float64 weights
    layers: list[Any] = []
    bn: Any
    conv: Any
    if arch.kind == "cnn":
        c, hh, ww = arch.image_shape  # type: ignore[misc]
        layers.append(nn.Unflatten(1, (c, hh, ww)))
        for j, (ci, co, pool) in enumerate(arch.conv_plan()):
            conv = nn.Conv2d(ci, co, 3, padding=1, dtype=dtype)
            conv.weight.data.copy_(P[f"K{j}"])
            conv.bias.data.copy_(P[f"kb{j}"])
            layers.append(conv)
            if arch.batch_norm:
                bn = nn.BatchNorm2d(co, dtype=dtype)
                bn.weight.data.copy_(P[f"kg{j}"])
                bn.bias.data.copy_(P[f"kbeta{j}"])
                layers.append(bn)
            layers.append(copy.deepcopy(act_module))
            if pool:
                layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten())
    for i, (di, do) in enumerate(arch.dense_layers):
        lin = nn.Linear(di, do, dtype=dtype)
        lin.weight.data.copy_(P[f"W{i}"].T)
        lin.bias.data.copy_(P[f"b{i}"][0])
        layers.append(lin)
        if arch.batch_norm:
            bn = nn.BatchNorm1d(do, dtype=dtype)
            bn.weight.data.copy_(P[f"g{i}"])
            bn.bias.data.copy_(P[f"beta{i}"])
            layers.append(bn)
        layers.append(copy.deepcopy(act_module))
        if arch.dropout > 0:
            layers.append(nn.Dropout(arch.dropout))
    out = nn.Linear(arch.dense_layers[-1][1], arch.n_out, dtype=dtype)
    out.weight.data.copy_(P["Wo"].T)
    out.bias.data.copy_(P["bo"][0])
    layers.append(out)
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- losses and metrics
def member_loss(task: str, out: Any, y: Any) -> Any:
    """Mean loss per member: out (E, b, k), y (E, b) -> (E,)."""
    import torch.nn.functional as F  # noqa: N812

    E, nb = out.shape[0], out.shape[1]
    if task == "multiclass":
        return F.cross_entropy(out.reshape(E * nb, -1), y.reshape(-1), reduction="none").view(E, nb).mean(1)
    if task == "binary":
        return F.binary_cross_entropy_with_logits(out[..., 0], y, reduction="none").mean(1)
    return ((out[..., 0] - y) ** 2).mean(1)


def member_hits(task: str, out: Any, y: Any) -> Any:
    """Correct predictions per member (classification): (E,)."""
    if task == "multiclass":
        return (out.argmax(-1) == y).sum(1)
    return ((out[..., 0] > 0) == (y > 0.5)).sum(1)


def batch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The training order of one member in one epoch: shared by both trainers."""
    return np.random.default_rng([int(seed), int(epoch), 7]).permutation(n)


def batch_slices(n: int, batch_size: int, batch_norm: bool) -> list[slice]:
    out = [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if batch_norm and out and out[-1].stop - out[-1].start < 2:
        out.pop()  # batch-norm cannot train on a batch of one
    return out


def _epochs_to(history: list[float], final: float, frac: float = 0.95) -> int | None:
    if not math.isfinite(final) or final <= 0:
        return None
    for i, v in enumerate(history):
        if math.isfinite(v) and v >= frac * final:
            return i + 1
    return None


# --------------------------------------------------------------------------- prepared data
@dataclass
class _Prepared:
    ds: Dataset
    arch: Arch
    X: Any  # (N, D) tensor
    Y: Any  # (N,) tensor
    splits: list[Any]
    mu: Any  # (E, D)
    sd: Any
    ym: Any  # (E,)
    ys: Any
    Xs: Any = None  # (S * N, D): the data standardised once per distinct seed, where it fits in memory
    Ys: Any = None  # (S * N,)
    slot: Any = None  # (E,): each member's seed slot in Xs / Ys


def _prepare(unit: Unit, dtype: Any) -> _Prepared:
    import torch

    ds = load(unit.dataset)
    arch = make_arch(ds, unit.model)
    cache: dict[int, tuple[Any, ...]] = {}
    for m in unit.members:
        if m.seed not in cache:
            sp = split(ds, m.seed, unit.split.val, unit.split.test)
            mu, sd = standardizer(ds, sp.train)
            ym, ys = target_scaler(ds, sp.train)
            cache[m.seed] = (sp, mu, sd, ym, ys)
    rows = [cache[m.seed] for m in unit.members]
    X = torch.as_tensor(ds.X).to(dtype)
    Y = torch.as_tensor(ds.y)
    Y = Y.long() if ds.task == "multiclass" else Y.to(dtype)
    prep = _Prepared(
        ds,
        arch,
        X,
        Y,
        [r[0] for r in rows],
        torch.as_tensor(np.stack([r[1] for r in rows])).to(dtype),
        torch.as_tensor(np.stack([r[2] for r in rows])).to(dtype),
        torch.tensor([r[3] for r in rows], dtype=dtype),
        torch.tensor([r[4] for r in rows], dtype=dtype),
    )
    seeds = list(cache)
    if len(seeds) * X.numel() * X.element_size() <= PRESCALE_BYTES:
        xs, ysl = [], []
        for sd_ in seeds:
            _, mu, sd, ym, ys = cache[sd_]
            xs.append((X - torch.as_tensor(mu).to(dtype)) / torch.as_tensor(sd).to(dtype))
            ysl.append(
                Y
                if ds.task != "regression"
                else (Y - torch.tensor(ym, dtype=dtype)) / torch.tensor(ys, dtype=dtype)
            )
        prep.Xs, prep.Ys = torch.cat(xs), torch.cat(ysl)
        prep.slot = torch.tensor([seeds.index(m.seed) * len(Y) for m in unit.members])
    return prep


def _dtype(training: TrainConfig) -> Any:
    import torch

    return torch.float64 if training.dtype == "float64" else torch.float32


# --------------------------------------------------------------------------- the ensembled trainer
def train_ensemble(unit: Unit) -> list[TrialResult]:
    """Train every member of ``unit`` as one batched model; one ``TrialResult`` per member."""
    import torch

    tc = unit.training
    dtype = _dtype(tc)
    act_choice = unit.activation
    act_cat = act_choice.resolve()
    act = torch_activation(act_choice)
    gain, gain_source = init_gain(act_cat)
    peak = peak_slope(act_cat) if unit.health else 1.0
    prep = _prepare(unit, dtype)
    ds, arch = prep.ds, prep.arch
    task = ds.task
    n_total = len(unit.members)

    inits = [member_init(arch, m.seed, gain, dtype) for m in unit.members]
    P = {k: torch.stack([p[k] for p, _ in inits]).requires_grad_(True) for k in inits[0][0]}
    Bf = {k: torch.stack([b[k] for _, b in inits]).contiguous() for k in inits[0][1]}
    state = {k: torch.zeros_like(v) for k, v in P.items()}  # Adam m / SGD momentum buffer
    state2 = {k: torch.zeros_like(v) for k, v in P.items()}  # Adam v
    best_P = {k: v.detach().clone() for k, v in P.items()}
    best_B = {k: v.clone() for k, v in Bf.items()}

    # Per-member tensors (all indexed by position in the current batch of live members).
    live = list(range(n_total))
    tr_idx = torch.as_tensor(np.stack([s.train for s in prep.splits]))
    va_idx = torch.as_tensor(np.stack([s.val for s in prep.splits]))
    te_idx = torch.as_tensor(np.stack([s.test for s in prep.splits]))
    mu, sd, ym, ys, slot = prep.mu, prep.sd, prep.ym, prep.ys, prep.slot
    lr = torch.tensor([m.lr for m in unit.members], dtype=torch.float64)
    best_score_ = [math.inf] * n_total
    best_epoch = [0] * n_total
    bad = [0] * n_total
    div_epoch = [-1] * n_total
    seeds = [m.seed for m in unit.members]

    histories: list[list[dict[str, Any]]] = [[] for _ in range(n_total)]
    results: list[TrialResult | None] = [None] * n_total
    n_train = tr_idx.shape[1]
    slices = batch_slices(n_train, tc.batch_size, arch.batch_norm)
    weight_keys = [k for k in P if k[0] in "KW"]  # conv, dense and output weights, input to output
    # dropout masks only: a stable seed from the unit's members
    torch.manual_seed(int(digest([m.key or f"{m.seed}/{m.lr}" for m in unit.members])[:8], 16))
    step = 0

    def gather(idx: Any, loc: Any = None) -> tuple[Any, Any]:
        if prep.Xs is not None:
            flat = idx + (slot if loc is None else slot[loc])[:, None]
            shape = flat.shape
            flat = flat.reshape(-1)
            xb = prep.Xs.index_select(0, flat).view(*shape, -1)
            return xb, prep.Ys.index_select(0, flat).view(shape)
        m_, s_, a_, b_ = (mu, sd, ym, ys) if loc is None else (mu[loc], sd[loc], ym[loc], ys[loc])
        xb = (prep.X[idx] - m_[:, None, :]) / s_[:, None, :]
        yb = prep.Y[idx]
        if task == "regression":
            yb = (yb - a_[:, None]) / b_[:, None]
        return xb, yb

    def evaluate(Pe: dict[str, Any], Be: dict[str, Any], idx: Any, loc: Any = None) -> tuple[Any, Any]:
        E, n = idx.shape
        loss = torch.zeros(E, dtype=torch.float64)
        hits = torch.zeros(E, dtype=torch.float64)
        sse = torch.zeros(E, dtype=torch.float64)
        ysum = torch.zeros(E, dtype=torch.float64)
        y2sum = torch.zeros(E, dtype=torch.float64)
        with torch.no_grad():
            for s in range(0, n, EVAL_CHUNK):
                sub = idx[:, s : s + EVAL_CHUNK]
                xb, yb = gather(sub, loc)
                out = ensemble_forward(arch, act, Pe, Be, xb, False)
                k = sub.shape[1]
                loss += member_loss(task, out, yb).double() * k
                if task == "regression":
                    sse += ((out[..., 0] - yb) ** 2).double().sum(1)
                    ysum += yb.double().sum(1)
                    y2sum += (yb.double() ** 2).sum(1)
                else:
                    hits += member_hits(task, out, yb).double()
        loss /= n
        if task == "regression":
            sst = y2sum - ysum**2 / n
            metric = 1 - sse / torch.clamp(sst, min=1e-12)
        else:
            metric = hits / n
        return loss, metric

    epoch = 0
    while live and epoch < tc.max_epochs:
        epoch += 1
        t0 = time.perf_counter()
        E = len(live)
        finite = torch.ones(E, dtype=torch.bool)
        order = torch.as_tensor(np.stack([batch_order(seeds[i], epoch, n_train) for i in live]))
        ep_idx = torch.gather(tr_idx, 1, order)
        tl = torch.zeros(E, dtype=dtype)
        th = torch.zeros(E, dtype=torch.long)
        tsse = torch.zeros(E, dtype=torch.float64)
        tys = torch.zeros(E, dtype=torch.float64)
        ty2 = torch.zeros(E, dtype=torch.float64)
        seen = 0
        params = list(P.values())
        lr_b = [lr.view(E, *([1] * (v.dim() - 1))) for v in params]
        groups = _lr_groups(lr.tolist())
        ms, vs = [state[k] for k in P], [state2[k] for k in P]
        grad_norms = torch.zeros(E, len(weight_keys), dtype=torch.float64)
        for bi, sl in enumerate(slices):
            xb, yb = gather(ep_idx[:, sl])
            out = ensemble_forward(arch, act, P, Bf, xb, True)
            loss_e = member_loss(task, out, yb)
            for v in params:
                v.grad = None
            # Members are independent: the gradient of the sum is each member's own gradient. A member
            # whose loss is not finite only spoils itself; it is marked and retired after the epoch.
            loss_e.sum().backward()
            step += 1
            with torch.no_grad():
                ld = loss_e.detach()
                finite &= torch.isfinite(ld)
                k = sl.stop - sl.start
                seen += k
                tl += ld * k
                if task == "regression":
                    tsse += ((out[..., 0] - yb) ** 2).double().sum(1)
                    tys += yb.double().sum(1)
                    ty2 += (yb.double() ** 2).sum(1)
                else:
                    th += member_hits(task, out, yb)
                if bi == len(slices) - 1:
                    for i, wk in enumerate(weight_keys):
                        g_ = P[wk].grad.double()  # type: ignore[union-attr]
                        grad_norms[:, i] = g_.pow(2).sum(tuple(range(1, g_.dim()))).sqrt()
                _step(params, ms, vs, lr_b, tc, step, dtype, groups)
        active = finite
        for j in torch.nonzero(~finite).flatten().tolist():
            div_epoch[live[j]] = epoch
        # validation, early stopping, health
        vl, vm = evaluate(P, Bf, va_idx)
        if task == "regression":
            tm = 1 - tsse / torch.clamp(ty2 - tys**2 / max(seen, 1), min=1e-12)
        else:
            tm = th.double() / max(seen, 1)
        tl = tl.double() / max(seen, 1)
        dead = sat = None
        if unit.health:
            dead, sat, dead_l, sat_l = _health(arch, act, act_cat, P, Bf, va_idx, gather, peak)
        dt = (time.perf_counter() - t0) / E
        finished: list[int] = []
        with torch.no_grad():
            score = (vl if tc.monitor == "val_loss" else -vm).tolist()
            tl_, tm_, vl_, vm_ = tl.tolist(), tm.tolist(), vl.tolist(), vm.tolist()
            act_, gn_ = active.tolist(), grad_norms.tolist()
            if dead is not None and sat is not None:
                dead_, sat_, dl_, sl_ = dead.tolist(), sat.tolist(), dead_l.T.tolist(), sat_l.T.tolist()
            improved = []
            for j, g in enumerate(live):
                ok = act_[j] and math.isfinite(vl_[j])
                if not ok and div_epoch[g] < 0:
                    div_epoch[g] = epoch
                row = {
                    "epoch": epoch,
                    "train_loss": tl_[j],
                    "train_metric": tm_[j],
                    "val_loss": vl_[j],
                    "val_metric": vm_[j],
                    "time": dt,
                    "dead": None,
                    "saturated": None,
                    "grad_norm": gn_[j],
                }
                if dead is not None:
                    row.update(
                        dead=dead_[j], saturated=sat_[j], dead_by_layer=dl_[j], saturated_by_layer=sl_[j]
                    )
                histories[g].append(row)
                if not ok:
                    finished.append(j)
                    continue
                if score[j] < best_score_[g]:
                    best_score_[g] = score[j]
                    best_epoch[g] = epoch
                    bad[g] = 0
                    improved.append(j)
                else:
                    bad[g] += 1
                    if bad[g] >= tc.patience:
                        finished.append(j)
            if improved:  # keep the best checkpoint of every member that improved, in one copy per tensor
                loc = torch.as_tensor(improved)
                glob = torch.as_tensor([live[j] for j in improved])
                for k2 in P:
                    best_P[k2].index_copy_(0, glob, P[k2].detach().index_select(0, loc))
                for k2 in Bf:
                    best_B[k2].index_copy_(0, glob, Bf[k2].index_select(0, loc))
        if epoch >= tc.max_epochs:
            finished = list(range(len(live)))
        if finished:
            done = [live[j] for j in finished]
            _finalize(
                done,
                finished,
                unit,
                prep,
                arch,
                act,
                best_P,
                best_B,
                va_idx,
                te_idx,
                evaluate,
                histories,
                best_epoch,
                div_epoch,
                results,
                gain,
                gain_source,
            )
            keep = [j for j in range(len(live)) if j not in set(finished)]
            if keep:
                kt = torch.as_tensor(keep)
                P = {k: v.detach()[kt].clone().requires_grad_(True) for k, v in P.items()}
                Bf = {k: v[kt].clone() for k, v in Bf.items()}
                state = {k: v[kt].clone() for k, v in state.items()}
                state2 = {k: v[kt].clone() for k, v in state2.items()}
                tr_idx, va_idx, te_idx = tr_idx[kt], va_idx[kt], te_idx[kt]
                mu, sd, ym, ys, lr = mu[kt], sd[kt], ym[kt], ys[kt], lr[kt]
                slot = slot[kt] if slot is not None else None
            live = [live[j] for j in keep]
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _lr_groups(lrs: list[float]) -> list[tuple[int, int, float]]:
    """Runs of members that share a learning rate: (start, stop, lr). Members are planned lr-major."""
    out: list[tuple[int, int, float]] = []
    for i, lr in enumerate(lrs):
        if out and out[-1][2] == lr and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1, lr)
        else:
            out.append((i, i + 1, lr))
    return out


_FUSED = {"ok": True}


def _step(
    params: list[Any],
    m: list[Any],
    v: list[Any],
    lr_b: list[Any],
    tc: TrainConfig,
    step: int,
    dtype: Any,
    groups: list[tuple[int, int, float]] | None = None,
) -> None:
    """One optimizer step for all members at once: torch.optim.Adam's or SGD's formulas, with a
    learning rate per member (torch's fused Adam kernel per run of members sharing a learning rate
    where the groups are few, else foreach operations)."""
    import torch

    if (
        tc.optimizer == "adam"
        and groups is not None
        and len(groups) <= 8
        and _FUSED["ok"]
        and hasattr(torch, "_fused_adam_")
    ):
        try:
            for a, b, lr in groups:
                torch._fused_adam_(
                    [p[a:b] for p in params],
                    [p.grad[a:b] for p in params],
                    [x[a:b] for x in m],
                    [x[a:b] for x in v],
                    [],
                    [torch.full((), float(step)) for _ in params],  # already incremented, as torch passes it
                    amsgrad=False,
                    lr=lr,
                    beta1=0.9,
                    beta2=0.999,
                    weight_decay=tc.weight_decay,
                    eps=1e-8,
                    maximize=False,
                )
            return
        except (RuntimeError, TypeError, NotImplementedError):  # pragma: no cover - older torch builds
            if step > 1:
                raise
            _FUSED["ok"] = False
    grads: Any = [p.grad for p in params]
    if tc.weight_decay:
        grads = torch._foreach_add(grads, params, alpha=tc.weight_decay)
    if tc.optimizer == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-8
        bc1 = 1 - b1**step
        bc2_sqrt = math.sqrt(1 - b2**step)
        torch._foreach_lerp_(m, grads, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, 1 - b2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, eps)
        step_size = [(lr / bc1).to(dtype) for lr in lr_b]
        upd = torch._foreach_mul(m, step_size)
        torch._foreach_div_(upd, denom)
    elif tc.momentum:
        if step == 1:
            torch._foreach_copy_(m, grads)
        else:
            torch._foreach_mul_(m, tc.momentum)
            torch._foreach_add_(m, grads)
        upd = torch._foreach_mul(m, [lr.to(dtype) for lr in lr_b])
    else:
        upd = torch._foreach_mul(grads, [lr.to(dtype) for lr in lr_b])
    torch._foreach_sub_(params, upd)


def _health(
    arch: Arch,
    act: Any,
    act_cat: Any,
    P: dict[str, Any],
    Bf: dict[str, Any],
    va_idx: Any,
    gather: Any,
    peak: float,
) -> tuple[Any, Any, Any, Any]:
    """Dead and saturated fractions per member (mean over layers) and per layer, on a validation probe."""
    import torch

    with torch.no_grad():
        xb, _ = gather(va_idx[:, :PROBE])
        zs: list[Any] = []
        ensemble_forward(arch, act, P, Bf, xb, False, capture=zs)
        dead_l, sat_l = [], []
        for z in zs:
            d = act_cat.derivative(z).abs()
            dead_l.append((d <= DEAD_TOL).all(dim=1).double().mean(1))
            sat_l.append((d < SAT_FRACTION * peak).double().mean((1, 2)))
        dl, sl = torch.stack(dead_l), torch.stack(sat_l)
    return dl.mean(0), sl.mean(0), dl, sl


def _finalize(
    done: list[int],
    local: list[int],
    unit: Unit,
    prep: _Prepared,
    arch: Arch,
    act: Any,
    best_P: dict[str, Any],
    best_B: dict[str, Any],
    va_idx: Any,
    te_idx: Any,
    evaluate: Any,
    histories: list[list[dict[str, Any]]],
    best_epoch: Any,
    div_epoch: Any,
    results: list[TrialResult | None],
    gain: float,
    gain_source: str,
) -> None:
    """Evaluate finished members on their best checkpoint (validation and test) and record them."""
    import torch

    idx = torch.as_tensor(done)
    Pd = {k: v[idx] for k, v in best_P.items()}
    Bd = {k: v[idx].clone() for k, v in best_B.items()}
    loc = torch.as_tensor(local)
    vi, ti = va_idx[loc], te_idx[loc]
    vl, vm = evaluate(Pd, Bd, vi, loc)
    tl, tm = evaluate(Pd, Bd, ti, loc)
    for j, g in enumerate(done):
        m = unit.members[g]
        hist = histories[g]
        de = int(div_epoch[g])
        be = int(best_epoch[g])
        last = hist[-1] if hist else {}
        best_row = hist[be - 1] if be >= 1 and be <= len(hist) else last
        results[g] = TrialResult(
            key=m.key,
            dataset=unit.dataset.label,
            activation=unit.activation.label,
            seed=m.seed,
            lr=m.lr,
            metric=prep.ds.metric_name,
            status="diverged" if de >= 0 else "ok",
            diverged_epoch=de if de >= 0 else None,
            best_epoch=be,
            epochs_run=len(hist),
            val_loss=_f(vl[j]),
            val_metric=_f(vm[j]),
            test_loss=_f(tl[j]),
            test_metric=_f(tm[j]),
            train_time=float(sum(h["time"] for h in hist)),
            epochs_to_95=_epochs_to([h["val_metric"] for h in hist], _f(vm[j])),
            health={
                "init_gain": gain,
                "init_gain_source": gain_source,
                "dead": best_row.get("dead"),
                "saturated": best_row.get("saturated"),
                "dead_by_layer": best_row.get("dead_by_layer"),
                "saturated_by_layer": best_row.get("saturated_by_layer"),
                "grad_norm_by_layer": best_row.get("grad_norm"),
                "final_grad_norm_by_layer": last.get("grad_norm"),
            },
            epochs=hist,
        )


def _f(x: Any) -> float:
    return float(x)


# --------------------------------------------------------------------------- the reference loop
def train_reference(unit: Unit) -> list[TrialResult]:
    """The same runs as :func:`train_ensemble`, one after another, as a plain PyTorch loop.

    ``nn.Sequential`` model, ``torch.optim.Adam`` (or SGD), the same data,
    initialisation, batch order, early stopping and divergence rule. Used by
    the equivalence test and the ensembling benchmark.
    """
    import torch

    tc = unit.training
    dtype = _dtype(tc)
    act_cat = unit.activation.resolve()
    act_module = torch_activation(unit.activation)
    gain, gain_source = init_gain(act_cat)
    prep = _prepare(unit, dtype)
    ds, arch, task = prep.ds, prep.arch, prep.ds.task
    out: list[TrialResult] = []
    for e, m in enumerate(unit.members):
        P0, _ = member_init(arch, m.seed, gain, dtype)
        model = reference_module(arch, act_module, P0, {})
        opt: Any
        if tc.optimizer == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=m.lr, weight_decay=tc.weight_decay)
        else:
            opt = torch.optim.SGD(
                model.parameters(), lr=m.lr, momentum=tc.momentum, weight_decay=tc.weight_decay
            )
        sp = prep.splits[e]
        Xs = (prep.X - prep.mu[e]) / prep.sd[e]
        Ys = prep.Y if task != "regression" else (prep.Y - prep.ym[e]) / prep.ys[e]
        tr = torch.as_tensor(sp.train)
        slices = batch_slices(len(tr), tc.batch_size, arch.batch_norm)

        def loss_fn(o: Any, y: Any) -> Any:
            if task == "multiclass":
                return torch.nn.functional.cross_entropy(o, y)
            if task == "binary":
                return torch.nn.functional.binary_cross_entropy_with_logits(o[:, 0], y)
            return torch.nn.functional.mse_loss(o[:, 0], y)

        def evaluate(idx: np.ndarray) -> tuple[float, float]:
            model.eval()
            with torch.no_grad():
                o = model(Xs[idx])
                y = Ys[idx]
                loss = float(loss_fn(o, y))
                if task == "regression":
                    metric = float(1 - ((o[:, 0] - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())
                elif task == "multiclass":
                    metric = float((o.argmax(1) == y).double().mean())
                else:
                    metric = float(((o[:, 0] > 0) == (y > 0.5)).double().mean())
            model.train()
            return loss, metric

        best = math.inf
        best_state = copy.deepcopy(model.state_dict())
        best_epoch, bad, diverged = 0, 0, None
        hist: list[dict[str, Any]] = []
        for epoch in range(1, tc.max_epochs + 1):
            t0 = time.perf_counter()
            order = tr[torch.as_tensor(batch_order(m.seed, epoch, len(tr)))]
            total, seen = 0.0, 0
            for sl in slices:
                idx = order[sl]
                loss = loss_fn(model(Xs[idx]), Ys[idx])
                if not torch.isfinite(loss):
                    diverged = epoch
                    break
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
            vl, vm = evaluate(sp.val)
            hist.append(
                {
                    "epoch": epoch,
                    "train_loss": total / max(seen, 1),
                    "val_loss": vl,
                    "val_metric": vm,
                    "time": time.perf_counter() - t0,
                }
            )
            if diverged is None and not math.isfinite(vl):
                diverged = epoch
            if diverged is not None:
                break
            score = vl if tc.monitor == "val_loss" else -vm
            if score < best:
                best, best_epoch, bad = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= tc.patience:
                    break
        model.load_state_dict(best_state)
        vl, vm = evaluate(sp.val)
        tl, tm = evaluate(sp.test)
        out.append(
            TrialResult(
                key=m.key,
                dataset=unit.dataset.label,
                activation=unit.activation.label,
                seed=m.seed,
                lr=m.lr,
                metric=ds.metric_name,
                status="diverged" if diverged else "ok",
                diverged_epoch=diverged,
                best_epoch=best_epoch,
                epochs_run=len(hist),
                val_loss=vl,
                val_metric=vm,
                test_loss=tl,
                test_metric=tm,
                train_time=sum(h["time"] for h in hist),
                epochs_to_95=_epochs_to([h["val_metric"] for h in hist], vm),
                health={"init_gain": gain, "init_gain_source": gain_source},
                epochs=hist,
            )
        )
    return out
