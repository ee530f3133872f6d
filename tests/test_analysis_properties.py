"""actlab.analysis.properties on functions whose properties are known exactly."""

from __future__ import annotations

import math

import mpmath
import pytest

import actlab
from actlab import Activation, ActivationSpec, Kink, Properties
from actlab.analysis import check_metadata, properties
from actlab.core.spec import C0, C1, C2, DISCONTINUOUS, SMOOTH

INF = math.inf


def custom(name, forward, derivative, expression="", **props):
    """An unregistered Activation (so the registry-wide tests never see it)."""
    base = dict(range=(-INF, INF), monotonic=True, smoothness=SMOOTH, zero_centred=True)
    base.update(props)
    spec = ActivationSpec(
        name=name,
        family="test",
        description=name,
        forward=forward,
        derivative=derivative,
        expression=expression,
        properties=Properties(**base),
    )
    return Activation(spec)


CUBE = custom("t_cube", lambda x, o: x * x * x, lambda x, y, o: 3 * x * x, "x**3")
ABS_CUBE = custom(
    "t_abs_cube",
    lambda x, o: o.abs(x) ** 3,
    lambda x, y, o: 3 * x * o.abs(x),
    "Abs(x)**3",
    range=(0.0, INF),
    monotonic=False,
    smoothness=C2,
    zero_centred=False,
)
X_ABS_X = custom(
    "t_x_abs_x", lambda x, o: x * o.abs(x), lambda x, y, o: 2 * o.abs(x), "x*Abs(x)", smoothness=C1
)
SIGN = custom(
    "t_sign",
    lambda x, o: o.sign(x),
    lambda x, y, o: 0.0 * x,
    "sign(x)",
    range=(-1.0, 1.0),
    smoothness=DISCONTINUOUS,
    kinks=(Kink(0.0, 0.0),),
)
STEEP = custom(
    "t_steep_tanh",
    lambda x, o: o.tanh(50.0 * x),
    lambda x, y, o: 50.0 * (1 - o.tanh(50.0 * x) ** 2),
    "tanh(50*x)",
    range=(-1.0, 1.0),
)
SQRT_ODD = custom(
    "t_sqrt_odd",
    lambda x, o: o.sign(x) * o.sqrt(o.abs(x)),
    lambda x, y, o: 0.5 / o.sqrt(o.abs(x)),
    "sign(x)*sqrt(Abs(x))",
    smoothness=C0,
    kinks=(Kink(0.0, INF),),
)
SHIFTED = custom(
    "t_shifted_relu",
    lambda x, o: o.maximum(x - 2.5, 0.0),
    lambda x, y, o: o.astype(x > 2.5, x.dtype),
    "Max(x - 5/2, 0)",
    range=(0.0, INF),
    smoothness=C0,
    zero_centred=False,
    kinks=(Kink(2.5, 0.0),),
)
BUMP = custom(
    "t_bump",
    lambda x, o: o.exp(-x * x),
    lambda x, y, o: -2 * x * o.exp(-x * x),
    "exp(-x**2)",
    range=(0.0, 1.0),
    monotonic=False,
    zero_centred=False,
)
NO_EXPR = custom(
    "t_no_expr",
    lambda x, o: o.abs(x) ** 3,
    lambda x, y, o: 3 * x * o.abs(x),
    "",
    range=(0.0, INF),
    monotonic=False,
    smoothness=C2,
    zero_centred=False,
)


def test_cube_is_smooth_monotone_unbounded_and_centred():
    p = properties(CUBE)
    assert p.range == (-INF, INF) and p.monotonic and p.smoothness == SMOOTH and p.kinks == ()
    assert p.zero_centred and abs(p.mean) < 1e-15
    assert p.second_moment == pytest.approx(15.0, rel=1e-13)  # E z^6
    assert p.derivative_inf == 0.0 and p.derivative_sup == INF
    assert p.saturation_regions == () and p.dead_regions == ()  # |f'| < 1e-3 only on a tiny interval
    assert check_metadata(CUBE, p) == []


def test_abs_cube_is_c2_with_minimum_at_zero():
    p = properties(ABS_CUBE)
    assert p.smoothness == C2
    assert [(d.at, d.order) for d in p.discontinuities] == [(0.0, 3)]
    assert p.kinks == () and not p.monotonic
    assert p.minimum == (0.0, 0.0) and p.maximum is None
    assert p.mean == pytest.approx(4 / math.sqrt(2 * math.pi), rel=1e-13)  # E|z|^3
    assert check_metadata(ABS_CUBE, p) == []


def test_x_abs_x_is_c1():
    p = properties(X_ABS_X)
    assert p.smoothness == C1 and p.kinks == () and p.monotonic
    assert [(d.at, d.order) for d in p.discontinuities] == [(0.0, 2)]


def test_sign_is_discontinuous_with_dead_halves():
    p = properties(SIGN)
    assert p.smoothness == DISCONTINUOUS and p.kinks == (Kink(0.0, 0.0),)
    assert p.dead_regions == ((-INF, 0.0), (0.0, INF))
    assert p.range == (-1.0, 1.0) and p.monotonic
    assert check_metadata(SIGN, p) == []


def test_steep_but_smooth_is_not_a_kink():
    p = properties(STEEP)
    assert p.smoothness == SMOOTH and p.kinks == () and p.discontinuities == ()
    assert p.derivative_sup == pytest.approx(50.0, rel=1e-12)
    # |f'| = 50 sech^2(50 x) < 1e-3 for |x| > asech(sqrt(2e-5)) / 50
    edge = float(mpmath.asech(mpmath.sqrt(mpmath.mpf("2e-5")))) / 50
    assert p.saturation_regions == (
        pytest.approx((-INF, -edge), rel=1e-9),
        pytest.approx((edge, INF), rel=1e-9),
    )


def test_infinite_slope_counts_as_a_kink():
    p = properties(SQRT_ODD)
    assert p.smoothness == C0 and [k.at for k in p.kinks] == [0.0] and p.kinks[0].grad == INF
    assert p.monotonic and p.range == (-INF, INF)


def test_kink_location_from_parameters_and_zero_centring_threshold():
    p = properties(SHIFTED)
    assert p.kinks == (Kink(2.5, 0.0),) and p.dead_regions == ((-INF, 2.5),)
    assert check_metadata(SHIFTED, p) == []
    t = properties("threshold", threshold=-0.75, value=-3.0)
    assert [k.at for k in t.kinks] == [-0.75] and t.smoothness == DISCONTINUOUS
    assert t.range == (-3.0, INF)


def test_bump_extrema_and_saturation():
    p = properties(BUMP)
    assert p.maximum == (0.0, 1.0) and p.minimum is None  # inf 0 only approached at +-inf
    assert p.range == (0.0, 1.0) and not p.monotonic and not p.non_increasing
    assert p.derivative_sup == pytest.approx(math.sqrt(2) * math.exp(-0.5), rel=1e-12)
    assert p.mean == pytest.approx(1 / math.sqrt(3), rel=1e-13)


def test_without_expression_c2_is_not_told_from_smooth():
    p = properties(NO_EXPR)
    assert p.smoothness == SMOOTH and any("C2 is not told apart" in n for n in p.notes)


def test_catalog_values_known_in_closed_form():
    relu = properties("relu")
    assert (
        relu.range == (0.0, INF) and relu.kinks == (Kink(0.0, 0.0),) and relu.dead_regions == ((-INF, 0.0),)
    )
    assert relu.mean == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-14)
    assert relu.variance == pytest.approx(0.5 - 1 / (2 * math.pi), rel=1e-13)
    assert relu.gain == pytest.approx(math.sqrt(2), rel=1e-14)
    sig = properties("sigmoid")
    # sigma' = s (1 - s) < 1e-3  <=>  |x| > log((1 + sqrt(1 - 4e-3)) / (1 - sqrt(1 - 4e-3)))
    r = math.sqrt(1 - 4e-3)
    edge = math.log((1 + r) / (1 - r))
    assert sig.saturation_regions == (
        pytest.approx((-INF, -edge), rel=1e-9),
        pytest.approx((edge, INF), rel=1e-9),
    )
    assert sig.dead_regions == ()  # f' underflows below -745 in float64, but is not 0
    assert sig.derivative_sup == 0.25 and sig.vanishing_gradient
    assert sig.mean == pytest.approx(0.5, abs=1e-15) and not sig.zero_centred
    silu = properties("silu")
    x0 = float(
        mpmath.findroot(lambda t: 1 / (1 + mpmath.exp(-t)) * (1 + t * (1 - 1 / (1 + mpmath.exp(-t)))), -1.3)
    )
    assert silu.minimum[0] == pytest.approx(x0, abs=1e-7)
    assert silu.minimum[1] == pytest.approx(x0 / (1 + math.exp(-x0)), rel=1e-14)
    assert silu.range[0] == silu.minimum[1]
    tanh = properties("tanh")
    assert tanh.zero_centred and tanh.second_moment == pytest.approx(0.39429449, rel=1e-7)
    hs = properties("hardsigmoid")
    assert hs.kinks == (Kink(-3.0, 0.0), Kink(3.0, 0.0)) and hs.smoothness == C0
    assert hs.dead_regions == ((-INF, -3.0), (3.0, INF))
    sine = properties("sine")
    assert sine.minimum == pytest.approx((-math.pi / 2, -1.0), abs=1e-7)
    assert sine.maximum == pytest.approx((math.pi / 2, 1.0), abs=1e-7)


def test_restricted_domain():
    p = properties("log1mexp")
    assert p.domain == (0.0, INF) and p.range == (-INF, 0.0) and p.monotonic
    assert p.kinks == (Kink(0.0, INF),) and math.isnan(p.mean) and p.zero_centred is None


def test_check_metadata_reports_each_wrong_field():
    wrong = custom(
        "t_wrong",
        lambda x, o: o.maximum(x, 0.0),
        lambda x, y, o: o.astype(x > 0, x.dtype),
        "Max(x, 0)",
        range=(-INF, INF),
        monotonic=False,
        smoothness=C1,
        zero_centred=True,
        kinks=(Kink(0.0, 1.0), Kink(1.0, 0.0)),
    )
    fields = {d.field for d in check_metadata(wrong)}
    assert fields == {
        "range.inf",
        "bounded_below",
        "monotonic",
        "smoothness",
        "zero_centred",
        "kinks",
        "kinks[0.0].grad",
    }


def test_as_dict_and_str():
    p = properties("elu", alpha=2.0)
    d = p.as_dict()
    assert d["smoothness"] == "C0" and d["kinks"] == [{"at": 0.0, "grad": 2.0}]
    assert d["params"] == {"alpha": 2.0} and "range" in str(p)
    assert p.as_properties().kinks == p.kinks


def test_vector_entries_are_refused():
    vec = actlab.names(kind="vector")
    with pytest.raises(TypeError, match="vector-valued"):
        properties(vec[0])


def test_no_runtime_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        properties(CUBE)
        properties("softplus")


NO_EXPR_C1 = custom(
    "t_no_expr_c1", lambda x, o: x * o.abs(x), lambda x, y, o: 2 * o.abs(x), "", smoothness=C1
)


def test_without_expression_f2_jumps_come_from_finite_differences():
    p = properties(NO_EXPR_C1)
    assert p.smoothness == C1 and [d.order for d in p.discontinuities] == [2]
    assert abs(p.discontinuities[0].at) < 1e-4
