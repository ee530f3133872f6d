"""Dying ReLU at initialisation: the probability that a ReLU network is born dead.

Lu, Shin, Su & Karniadakis ("Dying ReLU and Initialization: Theory and
Numerical Examples", 2019; Commun. Comput. Phys. 2020) prove that a deep ReLU
network initialised from symmetric distributions is born dead with probability
tending to 1 as the depth grows. For a single input point the probability has a
closed form:

**Setting.** ``depth`` hidden ReLU layers of ``width`` units (or a list of
widths); every weight drawn independently from a distribution symmetric about 0
with no atom at 0 (normal, uniform, ...); biases all zero or drawn the same way,
independent of the weights; the input x is not 0 when biases are zero.

**Claim.** The network is *dead at x* (some hidden layer has every unit <= 0, so
the output is constant near x and every gradient through that layer is 0) with
probability

    P(dead at x) = 1 - prod_l (1 - 2^(-N_l)),   = 1 - (1 - 2^-N)^L for equal widths.

**Derivation.** Given that layers 1 ... l-1 are alive at x, the input z to layer
l is a non-zero vector fixed by those layers and independent of layer l's
weights. Each pre-activation h_i = w_i . z + b_i is then symmetric about 0 with
no atom, so P(h_i <= 0) = 1/2, independently over the N_l units (their weights
are independent): layer l dies with probability 2^(-N_l). Multiplying the
conditional survival probabilities over the layers gives the formula.

For a *set* of inputs there is no closed form; :func:`born_dead_monte_carlo`
estimates, over random networks, the probability of being dead at each point,
dead at every point, and collapsed (one layer dead at all points at once, which
makes the network constant on the set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BornDead", "born_dead_monte_carlo", "born_dead_probability"]


def _widths(width: int | Sequence[int], depth: int | None) -> list[int]:
    if isinstance(width, (int, np.integer)):
        if depth is None:
            raise ValueError("born_dead: give depth with a single width")
        ws = [int(width)] * int(depth)
    else:
        ws = [int(w) for w in width]
        if depth is not None and depth != len(ws):
            raise ValueError(f"born_dead: depth={depth} but {len(ws)} widths given")
    if not ws or min(ws) < 1:
        raise ValueError(f"born_dead: needs at least one layer of width >= 1, got {ws}")
    return ws


def born_dead_probability(width: int | Sequence[int], depth: int | None = None) -> float:
    """P(a ReLU net is dead at a given input point) = 1 - prod_l (1 - 2^-N_l); see the module docstring.

    >>> born_dead_probability(2, 5)        # 1 - (3/4)^5
    0.7626953125
    >>> born_dead_probability([3, 3, 2])   # 1 - (7/8)^2 (3/4)
    0.42578125
    """
    alive = 1.0
    for n in _widths(width, depth):
        alive *= 1.0 - math.ldexp(1.0, -n)
    return 1.0 - alive


@dataclass(frozen=True)
class BornDead:
    """Monte Carlo estimates over ``trials`` random networks (standard errors alongside)."""

    widths: tuple[int, ...]
    trials: int
    points: int
    dead_at_point: np.ndarray  # P(dead at x_j), per input point
    dead_at_point_se: np.ndarray
    dead_everywhere: float  # P(dead at every input point)
    dead_everywhere_se: float
    collapsed: float  # P(one hidden layer dead at all points at once): constant on the set
    collapsed_se: float
    analytic_point: float  # the closed form for one point

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["dead_at_point"] = self.dead_at_point.tolist()
        d["dead_at_point_se"] = self.dead_at_point_se.tolist()
        d["widths"] = list(self.widths)
        return d


def _draw(rng: np.random.Generator, kind: str, shape: tuple[int, ...], scale: float) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, scale, shape)
    if kind == "uniform":
        b = math.sqrt(3.0) * scale
        return rng.uniform(-b, b, shape)
    if kind == "laplace":
        return rng.laplace(0.0, scale / math.sqrt(2.0), shape)
    raise ValueError(
        f"born_dead_monte_carlo: distribution must be 'normal', 'uniform' or 'laplace', got {kind!r}"
    )


def born_dead_monte_carlo(
    inputs: Any,
    width: int | Sequence[int],
    depth: int | None = None,
    *,
    trials: int = 20000,
    weights: str = "normal",
    bias: str = "zero",
    seed: int | None = 0,
    chunk: int = 4096,
) -> BornDead:
    """Estimate born-dead probabilities for ReLU nets on a set of inputs.

    ``inputs``: an array (points, d) (or one point (d,)). ``weights`` and ``bias``
    name symmetric distributions (``"normal"``, ``"uniform"``, ``"laplace"``;
    ``bias="zero"`` for none), with He scaling (the probabilities do not depend on
    it). Returns per-point, all-points and collapse probabilities with standard
    errors sqrt(p (1 - p) / trials).

    >>> r = born_dead_monte_carlo([1.0, -2.0], 2, 5, trials=20000, seed=1)
    >>> bool(abs(r.dead_at_point[0] - r.analytic_point) < 4 * r.dead_at_point_se[0])
    True
    """
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"born_dead_monte_carlo: inputs must be (points, d) or (d,), got shape {x.shape}")
    ws = _widths(width, depth)
    if bias == "zero" and np.any(np.all(x == 0, axis=1)):
        raise ValueError(
            "born_dead_monte_carlo: with zero biases the input 0 is dead by construction; "
            "remove it or use symmetric biases"
        )
    rng = np.random.default_rng(seed)
    n_pts = x.shape[0]
    dead_pt = np.zeros(n_pts)
    dead_all = 0
    collapsed = 0
    done = 0
    while done < trials:
        t = min(chunk, trials - done)
        z = np.broadcast_to(x, (t, *x.shape)).copy()  # (t, points, d)
        dead = np.zeros((t, n_pts), dtype=bool)
        coll = np.zeros(t, dtype=bool)
        for n in ws:
            d_in = z.shape[-1]
            w = _draw(rng, weights, (t, n, d_in), math.sqrt(2.0 / d_in))
            h = np.einsum("tpd,tnd->tpn", z, w)
            if bias != "zero":
                h += _draw(rng, bias, (t, 1, n), 1.0)
            layer_dead = np.all(h <= 0.0, axis=2)  # (t, points)
            dead |= layer_dead
            coll |= layer_dead.all(axis=1)
            z = np.maximum(h, 0.0)
        dead_pt += dead.sum(axis=0)
        dead_all += int(dead.all(axis=1).sum())
        collapsed += int(coll.sum())
        done += t

    def se(p: Any) -> Any:
        return np.sqrt(np.asarray(p) * (1.0 - np.asarray(p)) / trials)

    p_pt = dead_pt / trials
    p_all = dead_all / trials
    p_col = collapsed / trials
    return BornDead(
        tuple(ws),
        trials,
        n_pts,
        p_pt,
        se(p_pt),
        p_all,
        float(se(p_all)),
        p_col,
        float(se(p_col)),
        born_dead_probability(ws),
    )
