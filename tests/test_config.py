from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from charnn.config import (
    ModelConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    changed_keys,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    known_keys,
    load_config,
)
from charnn.errors import ConfigError


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_and_no_overrides_gives_the_offline_defaults() -> None:
    config = load_config()
    assert config == RunConfig()
    assert config.data.path is None
    assert config.data.source == "pydoc-topics"  # no network needed


def test_precedence_defaults_then_yaml_then_overrides_in_order(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "model:\n  hidden_size: 128\n  cell: gru\ntrain:\n  lr: 0.01\n")
    config = load_config(path, ["model.hidden_size=64", "model.hidden_size=96"])
    assert config.model.hidden_size == 96  # the last override wins
    assert config.model.cell == "gru"  # from the YAML
    assert config.train.lr == 0.01
    assert config.model.num_layers == ModelConfig().num_layers  # default


def test_base_tree_sits_between_defaults_and_yaml(tmp_path: Path) -> None:
    base = config_to_dict(RunConfig(train=TrainConfig(lr=0.5, seed=7)))
    path = write_yaml(tmp_path, "train:\n  lr: 0.25\n")
    config = load_config(path, [], base=base)
    assert config.train.lr == 0.25
    assert config.train.seed == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [("lr: 3e-3", 3e-3), ("lr: 3.0e-3", 3e-3), ("lr: 1", 1.0), ("lr: '2E-4'", 2e-4)],
)
def test_yaml_numbers_are_coerced_by_declared_type(
    tmp_path: Path, text: str, expected: float
) -> None:
    # PyYAML (YAML 1.1) reads 3e-3 as the string "3e-3".
    config = load_config(write_yaml(tmp_path, f"train:\n  {text}\n"))
    assert isinstance(config.train.lr, float)
    assert config.train.lr == pytest.approx(expected)


def test_integer_keys_accept_integral_floats_only(tmp_path: Path) -> None:
    assert load_config(overrides=["train.max_steps=1e4"]).train.max_steps == 10_000
    with pytest.raises(ConfigError, match=r"'train.batch_size' expects an integer; got '2.5'"):
        load_config(overrides=["train.batch_size=2.5"])


@pytest.mark.parametrize("word", ["null", "None", "~"])
def test_optional_keys_take_null(word: str) -> None:
    config = load_config(overrides=[f"train.max_steps={word}", "train.max_time=60"])
    assert config.train.max_steps is None
    assert config.train.max_time == 60.0


def test_unknown_key_is_an_error_that_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config key 'model.hiden_size'.*'model.hidden_size'"
    ):
        load_config(overrides=["model.hiden_size=3"])
    with pytest.raises(ConfigError, match=r"unknown config key 'trian'.*'train"):
        load_config(write_yaml(tmp_path, "trian:\n  lr: 1.0\n"))


@pytest.mark.parametrize(
    ("key", "ours"),
    [
        ("train.learning_rate", "train.lr"),
        ("model.rnn_size", "model.hidden_size"),
        ("nhid", "model.hidden_size"),
        ("train.block_size", "train.seq_len"),
        ("bptt", "train.seq_len"),
    ],
)
def test_names_from_other_tools_point_to_ours(key: str, ours: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown config key '{key}' \(did you mean '{ours}'"):
        load_config(overrides=[f"{key}=1"])


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["zzz=1"])
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=abc", r"'train.batch_size' expects an integer; got 'abc'"),
        ("train.lr=fast", r"'train.lr' expects a number; got 'fast'"),
        ("train.lr=nan", r"'train.lr' expects a number"),
        ("train.lr=inf", r"'train.lr' expects a number"),
    ],
)
def test_wrong_types_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("model:\n  cell: 5\n", r"'model.cell' expects a string; got 5"),
        ("train:\n  lr: true\n", r"'train.lr' expects a number; got True"),
        ("train:\n  batch_size: [1, 2]\n", r"'train.batch_size' expects an integer"),
        ("model: 3\n", r"'model' is a section"),
        ("train:\n  lr:\n", r"'train.lr' needs a value"),
    ],
)
def test_wrong_types_in_yaml_name_the_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_yaml(tmp_path, yaml_text))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.hidden_size=0", r"model.hidden_size must be > 0; got 0"),
        ("model.num_layers=-1", r"model.num_layers must be > 0"),
        ("model.embedding_dim=0", r"model.embedding_dim must be > 0"),
        ("model.dropout=1", r"model.dropout must be in \[0, 1\)"),
        ("model.dropout=-0.1", r"model.dropout must be in \[0, 1\)"),
        ("model.cell=transformer", r"model.cell must be one of lstm, gru, rnn; got 'transformer'"),
        ("train.batch_size=0", r"train.batch_size must be > 0"),
        ("train.seq_len=0", r"train.seq_len must be > 0"),
        ("train.lr=0", r"train.lr must be > 0"),
        ("train.grad_clip=-1", r"train.grad_clip must be >= 0"),
        ("train.max_steps=0", r"train.max_steps must be > 0"),
        ("train.max_time=-5", r"train.max_time must be > 0 seconds"),
        ("train.eval_every=0", r"train.eval_every must be > 0"),
        ("train.schedule=linear", r"train.schedule must be one of cosine, constant"),
        ("train.precision=fp8", r"train.precision must be one of fp32, bf16"),
        ("train.min_lr_ratio=2", r"train.min_lr_ratio must be in \[0, 1\]"),
        ("data.val_fraction=0", r"data.val_fraction must be between 0 and 1"),
        ("data.test_fraction=1", r"data.test_fraction must be in \[0, 1\)"),
        ("data.path=", r"data.path is empty"),
        ("out_dir=", r"out_dir is empty"),
    ],
)
def test_impossible_values_are_errors_that_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_fractions_must_leave_training_text() -> None:
    with pytest.raises(ConfigError, match="must leave some text for training"):
        load_config(overrides=["data.val_fraction=0.6", "data.test_fraction=0.5"])


def test_a_run_needs_some_limit() -> None:
    with pytest.raises(ConfigError, match=r"train\.max_time or train\.max_epochs; with none"):
        load_config(overrides=["train.max_steps=null"])


@pytest.mark.parametrize("override", ["no_equals_sign", "=3"])
def test_malformed_overrides(override: str) -> None:
    with pytest.raises(ConfigError, match="overrides expects KEY=VALUE"):
        load_config(overrides=[override])


def test_override_through_a_non_section() -> None:
    with pytest.raises(ConfigError, match="'device' is not a section"):
        apply_overrides({"device": "cpu"}, ["device.index=1"])


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "model:\n  hidden_size: 128\n  cell: [lstm\ntrain: {}\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML at line \d+, column \d+"):
        load_config(path)


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        load_config(write_yaml(tmp_path, "- a\n- b\n"))


def test_empty_yaml_and_empty_sections_mean_defaults(tmp_path: Path) -> None:
    assert load_config(write_yaml(tmp_path, "")) == RunConfig()
    assert load_config(write_yaml(tmp_path, "model:\ntrain:\n")) == RunConfig()


def test_missing_config_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_relative_data_path_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(overrides=["data.path=texts/a.txt"])
    assert config.data.path == str(tmp_path / "texts" / "a.txt")


def test_dict_and_yaml_round_trips() -> None:
    config = load_config(
        overrides=["model.cell=gru", "train.max_time=12.5", "data.test_fraction=0.05"]
    )
    assert config_from_dict(config_to_dict(config)) == config
    assert config_from_dict(yaml.safe_load(config_to_yaml(config))) == config


def test_configs_are_frozen() -> None:
    config = RunConfig()
    with pytest.raises(AttributeError):
        config.model.hidden_size = 3  # type: ignore[misc]


def test_changed_keys_lists_dotted_differences() -> None:
    old = RunConfig()
    new = load_config(overrides=["train.lr=0.5", "model.cell=gru"])
    assert changed_keys(old, new) == {
        "train.lr": (old.train.lr, 0.5),
        "model.cell": ("lstm", "gru"),
    }


def test_known_keys_cover_the_documented_contract() -> None:
    documented = {
        "data.path", "data.source", "data.val_fraction", "data.test_fraction",
        "model.cell", "model.hidden_size", "model.num_layers", "model.embedding_dim",
        "model.dropout", "train.batch_size", "train.seq_len", "train.lr", "train.weight_decay",
        "train.grad_clip", "train.max_steps", "train.max_time", "train.eval_every",
        "train.seed", "device", "out_dir",
    }  # fmt: skip
    assert documented <= set(known_keys())


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(known_keys()),
    value=st.one_of(st.text(max_size=12), st.integers().map(str), st.floats().map(str)),
)
def test_any_override_value_is_a_valid_config_or_an_error_naming_the_key(
    key: str, value: str
) -> None:
    try:
        config = load_config(overrides=[f"{key}={value}"])
    except ConfigError as error:
        message = str(error)
        assert key in message
        assert "\n" not in message
    else:
        assert isinstance(config, RunConfig)


@settings(max_examples=150, deadline=None)
@given(
    document=st.one_of(
        st.text(max_size=60),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda children: st.dictionaries(st.text(max_size=8), children, max_size=4),
            max_leaves=8,
        ).map(yaml.safe_dump),
    )
)
def test_any_yaml_document_is_a_valid_config_or_a_config_error(document: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(document, encoding="utf-8")
        try:
            config = load_config(path)
        except ConfigError as error:
            assert "\n" not in str(error)
        else:
            assert isinstance(config, RunConfig)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("yes", True), ("off", False)])
def test_a_switch_takes_true_or_false(text: str, value: bool) -> None:
    assert load_config(None, [f"train.tensorboard={text}"]).train.tensorboard is value


def test_a_switch_refuses_anything_else() -> None:
    with pytest.raises(
        ConfigError, match=r"train\.tensorboard' expects true or false; got 'maybe'"
    ):
        load_config(None, ["train.tensorboard=maybe"])
    with pytest.raises(ConfigError, match="expects true or false; got 1"):
        config_from_dict({"train": {"tensorboard": 1}})


def test_an_encoding_name_with_a_nul_character_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.encoding"):
        load_config(overrides=["data.encoding=\x00"])


@pytest.mark.parametrize(
    ("key", "ours"),
    [("lr", "train.lr"), ("hidden_size", "model.hidden_size"), ("train.cell", "model.cell")],
)
def test_a_key_in_the_wrong_section_or_in_none_points_to_its_section(key: str, ours: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}' \(did you mean '{ours}'\?\)"):
        load_config(overrides=[f"{key}=1"])


def test_the_unknown_key_message_names_a_command_that_lists_the_keys() -> None:
    with pytest.raises(ConfigError, match="charnn config keys lists them"):
        load_config(overrides=["model.hiden_size=3"])
