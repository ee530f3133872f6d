"""Live diagnostics of a PyTorch model's activation layers.

``diagnose(model, batches)`` hooks every activation *module* (found by
``actlab.torch.activations_in``), runs the batches forward (and backward, for
gradients) and reports per layer (each call of a module reused in one forward
pass is its own row, ``path#2`` ...):

- ``dead``: fraction of units whose derivative was 0 on every input seen (a
  ReLU unit that never fired): no gradient can reach their weights;
- ``saturated``: fraction of (input, unit) entries with |f'(x)| < ``saturation``;
- ``mean`` / ``std`` of the activations (outputs);
- ``mean_abs_derivative``: mean |f'(x)|;
- ``grad_norm``: the L2 norm of dLoss/d(input of the activation), averaged over
  batches (computed as dLoss/dy * f'(x), so in-place activations work);
- ``dormant``: fraction of tau-dormant units (Sokar, Agarwal, Castro & Evci 2023,
  "The Dormant Neuron Phenomenon in Deep Reinforcement Learning"): unit i's score
  is s_i = E|y_i| / mean_k E|y_k| over the layer's units, and it is dormant when
  s_i <= tau. Values of tau used in that line of work: 0 (strict), 0.025, 0.1;
  the default here is 0.025.

A *unit* is a feature: the last axis of a 2-d (batch, features) or 3-d
(batch, tokens, features) activation, the channel axis (1) of a 4-d or 5-d one
(images, volumes); ``unit_dim`` overrides it (e.g. 1 for Conv1d outputs).

The hooks read and never return a value, so the model's outputs are unchanged;
f'(x) is computed from the input in a forward *pre*-hook, before an in-place
activation overwrites it; gradients come from ``torch.autograd.grad``, which
leaves every parameter's ``.grad`` untouched; all hooks are removed on exit
(also on error). Activations called as functions inside ``forward`` have no
module to hook; they are listed in the notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Diagnosis", "LayerDiagnosis", "Monitor", "diagnose"]


@dataclass(frozen=True)
class LayerDiagnosis:
    path: str
    name: str  # catalog name of the activation
    units: int
    dead: float
    saturated: float
    mean: float
    std: float
    mean_abs_derivative: float
    grad_norm: float  # nan when no backward pass ran
    dormant: float
    entries: int  # (input, unit) entries seen

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Diagnosis:
    """The per-layer report of :func:`diagnose`: ``str()`` is a plain table, ``rich()`` a rich
    Table, ``as_dict()`` plain data, ``plot()`` a matplotlib figure."""

    layers: list[LayerDiagnosis]
    tau: float
    saturation: float
    batches: int
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, path: str) -> LayerDiagnosis:
        for r in self.layers:
            if r.path == path:
                return r
        raise KeyError(f"no activation layer {path!r}; layers: {', '.join(r.path for r in self.layers)}")

    def __len__(self) -> int:
        return len(self.layers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tau": self.tau,
            "saturation": self.saturation,
            "batches": self.batches,
            "notes": list(self.notes),
            "layers": [r.as_dict() for r in self.layers],
        }

    _COLUMNS = (
        ("layer", "path"),
        ("act", "name"),
        ("units", "units"),
        ("dead", "dead"),
        ("dormant", "dormant"),
        ("saturated", "saturated"),
        ("mean", "mean"),
        ("std", "std"),
        ("mean|f'|", "mean_abs_derivative"),
        ("|grad x|", "grad_norm"),
    )

    def _rows(self) -> list[list[str]]:
        rows: list[list[str]] = []
        for r in self.layers:
            row = []
            for _, key in self._COLUMNS:
                v = getattr(r, key)
                if key in ("dead", "dormant", "saturated"):
                    row.append(f"{100 * v:.1f}%")
                elif isinstance(v, float):
                    row.append("-" if math.isnan(v) else f"{v:.4g}")
                else:
                    row.append(str(v) or "<root>")
            rows.append(row)
        return rows

    def __str__(self) -> str:
        head = [c for c, _ in self._COLUMNS]
        rows = self._rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        out = [
            f"diagnose: {len(self.layers)} activation layer(s), {self.batches} batch(es), "
            f"tau={self.tau}, saturation |f'| < {self.saturation}"
        ]
        out.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        out.extend("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)
        out.extend(f"note: {n}" for n in self.notes)
        return "\n".join(out)

    __repr__ = __str__

    def rich(self) -> Any:
        """A ``rich.table.Table`` of the report."""
        from rich.table import Table

        t = Table(title=f"activation diagnostics (tau={self.tau}, {self.batches} batches)")
        for c, _ in self._COLUMNS:
            t.add_column(c, justify="left" if c in ("layer", "act") else "right")
        for r, row in zip(self.layers, self._rows()):
            style = "red" if r.dead > 0.5 else ("yellow" if r.dead > 0 or r.dormant > 0.1 else None)
            t.add_row(*row, style=style)
        return t

    def plot(self, axes: Any = None) -> Any:
        """Bars per layer: dead / dormant / saturated fractions, mean |f'|, gradient norm (log)."""
        import numpy as np

        if axes is None:
            import matplotlib.pyplot as plt

            fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
        else:
            fig = axes[0].figure
        labels = [r.path or "<root>" for r in self.layers]
        x = np.arange(len(labels))
        w = 0.27
        for k, (key, name) in enumerate(
            (("dead", "dead"), ("dormant", "dormant"), ("saturated", "saturated"))
        ):
            axes[0].bar(x + (k - 1) * w, [getattr(r, key) for r in self.layers], w, label=name)
        axes[0].set(title="fraction of units / entries", ylim=(0, 1))
        axes[0].legend(fontsize=8)
        axes[1].bar(x, [r.mean_abs_derivative for r in self.layers])
        axes[1].set(title="mean |f'(x)|")
        g = [r.grad_norm if math.isfinite(r.grad_norm) else 0.0 for r in self.layers]
        axes[2].bar(x, g)
        axes[2].set(title="‖∂L/∂x‖ (input of the activation)")
        if any(v > 0 for v in g):
            axes[2].set_yscale("log")
        for ax in axes:
            ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        return fig


class _Site:
    """Accumulators for one call site (module, call index)."""

    def __init__(self, path: str, name: str) -> None:
        self.path, self.name = path, name
        self.active = None  # per unit: ever had f' != 0
        self.abs_sum = None  # per unit: sum |y|
        self.unit_count = 0  # entries per unit
        self.n = 0
        self.sum = 0.0
        self.sumsq = 0.0
        self.abs_d = 0.0
        self.sat = 0
        self.grad_norms: list[float] = []


class Monitor:
    """Hooks on a model's activation modules that collect :func:`diagnose`'s statistics.

    Use as a context manager; the hooks are removed on exit::

        with Monitor(model) as mon:
            y = model(x)            # same output as without the monitor
            mon.backward(loss)      # optional: gradient norms (no .grad is touched)
        report = mon.report()
    """

    def __init__(
        self, model: Any, *, saturation: float = 1e-3, tau: float = 0.025, unit_dim: int | str = "auto"
    ) -> None:
        import torch

        from actlab.torch.surgery import activations_in

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"diagnose: expected a torch.nn.Module, got {type(model).__name__}")
        if tau < 0:
            raise ValueError(f"diagnose: tau must be >= 0, got {tau}")
        self.torch = torch
        self.model = model
        self.saturation = float(saturation)
        self.tau = float(tau)
        self.unit_dim = unit_dim
        self.notes: list[str] = []
        self.sites = [s for s in activations_in(model)]
        self._handles: list[Any] = []
        self._stats: dict[tuple[int, int], _Site] = {}
        self._calls: dict[int, int] = {}
        self._pending: list[tuple[_Site, Any, Any, int]] = []  # (site, y, f'(x), unit dim) of this forward
        self._busy = False
        self.batches = 0
        skipped_fn = sorted({s.name for s in self.sites if s.kind != "module"})
        if skipped_fn:
            self.notes.append(
                "not monitored (called as functions in forward code, no module to hook): "
                + ", ".join(skipped_fn)
            )
        self._modules: list[Any] = []
        for s in self.sites:
            if s.kind != "module" or s.module is None:
                continue
            if s.vector:
                self.notes.append(f"{s.path or '<root>'}: {s.name} is vector-valued; not monitored")
                continue
            self._modules.append(s)

    # --- hooks ----------------------------------------------------------------------------------
    def __enter__(self) -> Monitor:
        self.attach()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def attach(self) -> None:
        if self._handles:
            return
        self._handles.append(self.model.register_forward_pre_hook(self._reset_calls))
        for idx, s in enumerate(self._modules):
            module: Any = s.module
            self._handles.append(module.register_forward_pre_hook(self._make_pre(idx, s)))
            self._handles.append(module.register_forward_hook(self._make_post(idx, s)))

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._pending.clear()

    def _reset_calls(self, module: Any, args: Any) -> None:
        self._calls.clear()
        self._pending.clear()

    def _derivative_fn(self, s: Any) -> Any:
        import actlab

        try:
            act = actlab.get(s.name, **dict(s.params))
            if act.is_elementwise and act.spec.derivative is not None:
                return act.derivative
        except (KeyError, ValueError, TypeError):
            pass
        torch = self.torch
        module = s.module

        def by_autograd(x: Any) -> Any:  # any elementwise module: d/dx sum f(x)
            self._busy = True
            try:
                with torch.enable_grad():
                    xc = x.detach().clone().requires_grad_(True)
                    y = module(xc * 1.0)
                    (g,) = torch.autograd.grad(y.sum(), xc)
                return g
            finally:
                self._busy = False

        self.notes.append(f"{s.path or '<root>'}: {s.name!r} is not in the catalog; f' by autograd")
        return by_autograd

    def _unit_dim(self, t: Any) -> int:
        if self.unit_dim != "auto":
            return int(self.unit_dim) % max(t.ndim, 1)
        if t.ndim >= 4:
            return 1
        return t.ndim - 1 if t.ndim >= 1 else 0

    def _make_pre(self, idx: int, s: Any) -> Any:
        deriv = self._derivative_fn(s)
        torch = self.torch

        def pre(module: Any, args: Any) -> None:
            if self._busy or not args or not torch.is_tensor(args[0]):
                return
            call = self._calls.get(idx, 0)
            self._calls[idx] = call + 1
            key = (idx, call)
            site = self._stats.get(key)
            if site is None:
                path = s.path or "<root>"
                site = self._stats[key] = _Site(path if call == 0 else f"{path}#{call + 1}", s.name)
            x = args[0]
            with torch.no_grad():
                d = deriv(x.detach()).to(torch.float64)
                ud = self._unit_dim(d)
                dm = d.movedim(ud, -1).reshape(-1, d.shape[ud]) if d.ndim else d.reshape(1, 1)
                active = (dm != 0).any(dim=0).cpu()
                site.active = active if site.active is None else (site.active | active)
                site.abs_d += float(dm.abs().sum())
                site.sat += int((dm.abs() < self.saturation).sum())
            self._pending.append((site, None, d, ud))

        return pre

    def _make_post(self, idx: int, s: Any) -> Any:
        torch = self.torch

        def post(module: Any, args: Any, output: Any) -> None:
            if self._busy or not torch.is_tensor(output):
                return
            # the matching pre-hook entry is the last one for this module without an output
            for i in range(len(self._pending) - 1, -1, -1):
                site, y, d, ud = self._pending[i]
                if y is None:
                    self._pending[i] = (site, output, d, ud)
                    break
            else:
                return
            with torch.no_grad():
                y64 = output.detach().to(torch.float64)
                ym = y64.movedim(ud, -1).reshape(-1, y64.shape[ud]) if y64.ndim else y64.reshape(1, 1)
                site.n += ym.numel()
                site.sum += float(ym.sum())
                site.sumsq += float((ym * ym).sum())
                a = ym.abs().sum(dim=0).cpu()
                site.abs_sum = a if site.abs_sum is None else site.abs_sum + a
                site.unit_count += ym.shape[0]

        return post

    # --- backward and results -------------------------------------------------------------------
    def backward(self, loss: Any) -> None:
        """Gradient norms of each activation's input for ``loss`` (of the last forward pass)."""
        torch = self.torch
        live = [(site, y, d) for site, y, d, _ in self._pending if y is not None and y.requires_grad]
        if not live and self._pending:
            if "no gradients" not in " ".join(self.notes):
                self.notes.append(
                    "no gradients: the activations did not require grad (torch.no_grad, or "
                    "no parameter or input requires grad)"
                )
            self._pending.clear()
            return
        if not live or loss is None:
            self._pending.clear()
            return
        grads = torch.autograd.grad(loss, [y for _, y, _ in live], allow_unused=True)
        for (site, _, d), g in zip(live, grads):
            if g is None:
                continue
            gx = g.detach().to(torch.float64) * d
            site.grad_norms.append(float(gx.norm()))
        self._pending.clear()

    def report(self) -> Diagnosis:
        torch = self.torch
        rows: list[LayerDiagnosis] = []
        for key in sorted(self._stats):
            s = self._stats[key]
            if s.n == 0 or s.active is None:
                continue
            units = int(s.active.numel())
            mean = s.sum / s.n
            var = max(s.sumsq / s.n - mean * mean, 0.0)
            per_unit = s.abs_sum / max(s.unit_count, 1)
            layer_mean = float(per_unit.mean())
            score = per_unit / layer_mean if layer_mean > 0 else torch.zeros_like(per_unit)
            dormant = float((score <= self.tau).double().mean())
            rows.append(
                LayerDiagnosis(
                    path=s.path,
                    name=s.name,
                    units=units,
                    dead=float((~s.active).double().mean()),
                    saturated=s.sat / s.n,
                    mean=mean,
                    std=math.sqrt(var),
                    mean_abs_derivative=s.abs_d / s.n,
                    grad_norm=(sum(s.grad_norms) / len(s.grad_norms)) if s.grad_norms else math.nan,
                    dormant=dormant,
                    entries=s.n,
                )
            )
        return Diagnosis(rows, self.tau, self.saturation, self.batches, list(dict.fromkeys(self.notes)))


def _split(batch: Any) -> tuple[Any, Any]:
    """(model input, target) from a batch: a tensor, or a (input, target, ...) tuple / list."""
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def diagnose(
    model: Any,
    batches: Any,
    *,
    tau: float = 0.025,
    saturation: float = 1e-3,
    loss_fn: Any = None,
    backward: bool = True,
    unit_dim: int | str = "auto",
    max_batches: int | None = None,
    seed: int = 0,
) -> Diagnosis:
    """Run ``batches`` through ``model`` with hooks on its activation modules; report per layer.

    ``batches``: an iterable of input tensors or of ``(input, target)`` pairs (a
    DataLoader works), or a single tensor (one batch). With ``backward=True``
    gradients of ``loss_fn(output, target)`` are measured, or, without a loss,
    of a fixed random projection ``sum(output * r)``, r ~ N(0, 1) (seeded): a
    probe of how a generic signal flows back. The model's mode (train / eval) is
    left as it is; parameters and their ``.grad`` are not touched. See the module
    docstring for the columns. Also available as ``actlab.torch.diagnose``.

    >>> import torch, actlab.analysis as aa
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].bias.fill_(-100.0)          # every unit dead
    >>> aa.diagnose(net, [torch.randn(16, 4)])["1"].dead
    1.0
    """
    import torch

    if torch.is_tensor(batches):
        batches = [batches]
    gen = torch.Generator().manual_seed(seed)
    with Monitor(model, saturation=saturation, tau=tau, unit_dim=unit_dim) as mon:
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            x, target = _split(batch)
            with torch.enable_grad() if backward else torch.no_grad():
                out = model(x)
                mon.batches += 1
                if backward:
                    out_t = out[0] if isinstance(out, (tuple, list)) else out
                    if not torch.is_tensor(out_t) or not out_t.requires_grad:
                        mon.backward(None)
                        continue
                    if loss_fn is not None:
                        loss = loss_fn(out, target) if target is not None else loss_fn(out)
                    else:
                        r = torch.randn(out_t.shape, generator=gen, dtype=torch.float32).to(out_t)
                        loss = (out_t * r).sum()
                    mon.backward(loss)
        return mon.report()
