"""Study configuration: parsing, defaults, and errors that name the field, the allowed values and the line."""

from __future__ import annotations

import textwrap

import pytest

import actlab
from actlab.core.errors import ConfigError
from actlab.study.config import (
    DEFAULT_ACTIVATIONS,
    ActivationChoice,
    StudyConfig,
    default_config,
    load_config,
    parse_config,
)

GOOD = textwrap.dedent("""\
    name = "mine"
    baseline = "relu"
    seeds = [0, 3]
    activations = ["relu", "leaky_relu:negative_slope=0.2", {name = "tanh"}]
    datasets = ["iris", {name = "moons", n_samples = 300, noise = 0.3}]

    [model]
    depth = 1
    width = 16
    batch_norm = true

    [training]
    lr_grid = [0.01, 0.03]
    max_epochs = 5
    patience = 2
""")


def test_parse_good_config():
    cfg = parse_config(GOOD, "good.toml")
    assert cfg.name == "mine"
    assert cfg.seeds == (0, 3)
    assert [a.label for a in cfg.activations] == ["relu", "leaky_relu(negative_slope=0.2)", "tanh"]
    assert [d.label for d in cfg.datasets] == ["iris", "moons(n_samples=300, noise=0.3)"]
    assert cfg.model.batch_norm and cfg.model.width == 16
    assert cfg.training.lr_grid == (0.01, 0.03)
    assert cfg.n_trials == 3 * 2 * 2 * 2
    # the identity does not depend on where the file was
    assert parse_config(GOOD, "elsewhere.toml").key == cfg.key
    assert StudyConfig.from_dict(cfg.as_dict()).key == cfg.key


def test_param_forms_are_equivalent():
    a = parse_config(
        'activations = ["leaky_relu:negative_slope=0.2"]\nbaseline = "leaky_relu(negative_slope=0.2)"'
    )
    b = parse_config(
        'activations = [{name = "leaky_relu", negative_slope = 0.2}]\n'
        'baseline = "leaky_relu(negative_slope=0.2)"'
    )
    assert a.activations == b.activations


def test_trial_keys_differ_by_every_field():
    cfg = parse_config(GOOD)
    d, a = cfg.datasets[0], cfg.activations[0]
    from actlab.study.config import digest

    keys = {digest(cfg.trial_config(d, a, s, lr)) for s in (0, 1) for lr in (0.01, 0.03)}
    assert len(keys) == 4
    other = parse_config(GOOD.replace("width = 16", "width = 17"))
    assert digest(other.trial_config(d, a, 0, 0.01)) != digest(cfg.trial_config(d, a, 0, 0.01))


def test_default_config():
    cfg = default_config()
    assert cfg.baseline == "relu"
    assert {a.name for a in cfg.activations} <= set(DEFAULT_ACTIVATIONS)
    assert [d.name for d in cfg.datasets] == ["digits", "breast_cancer", "two_spirals"]
    assert len(cfg.seeds) >= 3 and len(cfg.training.lr_grid) >= 3


def _err(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(textwrap.dedent(text), "study.toml")
    return str(e.value)


def test_bad_value_names_field_allowed_values_and_line():
    msg = _err("""\
        name = "x"

        [training]
        max_epochs = 5
        lr_grid = [0.01, -0.1]
    """)
    assert "study.toml:5:" in msg
    assert "training.lr_grid[1]" in msg
    assert "(0, 10]" in msg


def test_bad_choice_lists_allowed():
    msg = _err("""\
        [training]
        optimizer = "adamw"
    """)
    assert "study.toml:2:" in msg and "training.optimizer" in msg and "'adam', 'sgd'" in msg


def test_unknown_field_and_section_key():
    msg = _err("""\
        nmae = "x"
        [model]
        widht = 3
    """)
    assert "study.toml:1: nmae" in msg and "allowed" in msg
    assert "study.toml:3: model.widht" in msg


def test_unknown_activation_suggests_and_points_at_element():
    msg = _err("""\
        activations = [
          "relu",
          "tanhh",
        ]
    """)
    assert "study.toml:3:" in msg and "activations[1]" in msg
    assert "tanh" in msg and "did you mean" in msg


def test_bad_activation_parameter():
    msg = _err('activations = ["relu", {name = "leaky_relu", negative_slope = "big"}]')
    assert "activations[1]" in msg and "negative_slope" in msg


def test_vector_activation_rejected():
    if "softmax" not in actlab.names():
        pytest.skip("softmax not in the catalog")
    assert "vector-valued" in _err('activations = ["relu", "softmax"]')


def test_unknown_dataset_and_dataset_params():
    msg = _err('datasets = ["digitz"]')
    assert "unknown dataset 'digitz'" in msg and "digits" in msg
    msg = _err("""\
        [[dataset]]
        name = "moons"
        noise = -1
    """)
    assert "study.toml:3:" in msg and "dataset[0].noise" in msg
    assert "needs a path" in _err('datasets = ["mnist"]')


def test_baseline_must_be_a_candidate():
    msg = _err('activations = ["tanh", "sigmoid"]')
    assert "baseline" in msg and "tanh, sigmoid" in msg


def test_seeds_and_split():
    assert "seeds" in _err("seeds = 0")
    assert "seeds" in _err("seeds = [1, 1]")
    assert "val + test" in _err("[split]\nval = 0.45\ntest = 0.45")


def test_toml_syntax_error_has_line():
    msg = _err('name = "x"\nseeds = = 3\n')
    assert "study.toml:2: invalid TOML" in msg


def test_several_errors_reported_together():
    msg = _err("""\
        [model]
        depth = 0
        [training]
        patience = -1
    """)
    assert "model.depth" in msg and "training.patience" in msg


def test_missing_and_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    p = tmp_path / "study.toml"
    p.write_text(GOOD)
    assert load_config(p).source == str(p)


def test_formula_activation():
    """[[activation]] tables go through actlab.functions.formula.define."""
    pytest.importorskip("actlab.functions.formula")
    text = textwrap.dedent("""\
        activations = ["relu"]
        [[activation]]
        name = "myswish"
        formula = "x * sigmoid(beta * x)"
        params = {beta = 1.5}
    """)
    try:
        cfg = parse_config(text)
        choice = cfg.activations[1]
        assert choice == ActivationChoice("myswish", (), "x * sigmoid(beta * x)", (("beta", 1.5),))
        import numpy as np

        assert float(choice.resolve()(np.array(1.0))) == pytest.approx(1 / (1 + np.exp(-1.5)))
        assert parse_config(text).key == cfg.key  # defining it again is a no-op
        msg = _err(text.replace("myswish", "tanh"))
        assert "collides with the catalog entry" in msg
        msg = _err(text.replace("x * sigmoid(beta * x)", "__import__('os')"))
        assert "activation[0].formula" in msg
    finally:
        actlab.unregister("myswish", missing_ok=True)


def test_example_config_parses():
    from pathlib import Path

    try:
        import actlab.functions.formula  # noqa: F401
    except ImportError:
        pytest.skip("actlab.functions.formula (formula activations) is not available yet")
    example = Path(__file__).resolve().parents[1] / "examples" / "study.toml"
    try:
        cfg = load_config(example)
    finally:
        actlab.unregister("swish15", missing_ok=True)
    assert cfg.name == "example" and len(cfg.activations) == 7 and len(cfg.datasets) == 3
