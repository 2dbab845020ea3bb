from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
import yaml
from typer.testing import CliRunner, Result

from charnn import __version__
from charnn.artifacts.checkpoint import load_checkpoint
from charnn.cli import app

from .conftest import tiny_tree
from .waiting import DEADLINE_S, LineReader

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def assert_user_error(result: Result, message: str) -> None:
    """Exit 2, one line on stderr that starts with 'charnn: error:', and no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("charnn: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def config_file(corpus_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_tree(corpus_file, tmp_path / "run")), encoding="utf-8")
    return path


def test_help_and_version() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("train", "sample", "eval"):
        assert command in result.stdout
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith(f"charnn {__version__} (torch ")


def test_every_option_and_argument_has_help() -> None:
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name} has no help text"


def test_train_sample_eval_end_to_end(config_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = invoke("train", str(config_file))
    assert result.exit_code == 0, result.output
    assert "step 40: val loss" in result.stderr and "done: 40 steps" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == [
        ".lock",
        "best.pt",
        "config.yaml",
        "last.pt",
        "metrics.jsonl",
        "status.json",
    ]

    first = invoke("sample", str(run), "--prime", "the ", "--length", "60", "--seed", "5")
    again = invoke(
        "sample", str(run / "best.pt"), "--prime", "the ", "--length", "60", "--seed", "5"
    )
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    assert (
        first.stdout.startswith("the ") and len(first.stdout) == len("the ") + 60 + 1
    )  # + final newline
    assert first.stderr == ""  # the seed was given, so nothing to report

    result = invoke("eval", str(run), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"loss", "bpc", "perplexity", "chars", "chars_per_s"} <= set(record)
    assert record["loss"] == pytest.approx(load_checkpoint(run / "best.pt").val_loss, rel=1e-6)

    table = invoke("eval", str(run))
    assert table.exit_code == 0
    for label in ("loss", "bits/char", "perplexity", "chars", "chars/s"):
        assert label in table.stdout


def test_resume_through_the_cli(config_file: Path, tmp_path: Path) -> None:
    assert invoke("train", str(config_file)).exit_code == 0
    result = invoke(
        "train", "--resume", "--out-dir", str(tmp_path / "run"), "--set", "train.max_steps=50"
    )
    assert result.exit_code == 0, result.output
    assert (
        "resuming at step 40" in result.stderr
        and "train.max_steps changed: 40 -> 50" in result.stderr
    )
    assert load_checkpoint(tmp_path / "run" / "last.pt").step == 50


def test_dedicated_flags_beat_set_which_beats_yaml(config_file: Path, tmp_path: Path) -> None:
    result = invoke(
        "train", str(config_file),
        "--set", "train.max_steps=12", "--set", "train.eval_every=6",
        "--set", f"out_dir={tmp_path / 'from-set'}", "--out-dir", str(tmp_path / "from-flag"),
        "--set", "device=cuda:7", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "from-set").exists()
    stored = yaml.safe_load((tmp_path / "from-flag" / "config.yaml").read_text())
    assert stored["device"] == "cpu" and stored["train"]["max_steps"] == 12
    assert stored["model"]["hidden_size"] == 32  # from the YAML


def test_data_flag_sets_the_corpus(corpus_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("0123456789 " * 300, encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(tiny_tree(corpus_file, tmp_path / "run", max_steps=5)), encoding="utf-8"
    )
    assert invoke("train", str(config), "--data", str(other)).exit_code == 0
    assert load_checkpoint(tmp_path / "run" / "best.pt").vocab.chars == " 0123456789"


def test_sample_options(trained_run: Path) -> None:
    result = invoke(
        "sample",
        str(trained_run),
        "--length",
        "20",
        "--num-samples",
        "3",
        "--top-k",
        "3",
        "--top-p",
        "0.9",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("--- sample")] == [
        "--- sample 1 ---", "--- sample 2 ---", "--- sample 3 ---",
    ]  # fmt: skip
    greedy = invoke(
        "sample", str(trained_run), "--prime", "to be ", "--length", "12", "--temperature", "0"
    )
    assert greedy.stdout == "to be or not to be\n"
    unseeded = invoke("sample", str(trained_run), "--length", "5")
    assert unseeded.exit_code == 0 and "pass --seed" in unseeded.stderr


def test_eval_a_text_file_and_the_test_split(trained_run: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("a stitch in time saves nine.\n", encoding="utf-8")
    result = invoke("eval", str(trained_run), "--text-file", str(text), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["chars"] == len("a stitch in time saves nine.\n") - 1
    assert invoke("eval", str(trained_run), "--split", "test").exit_code == 0


def test_training_into_a_finished_run_needs_resume_or_overwrite(config_file: Path) -> None:
    assert invoke("train", str(config_file)).exit_code == 0
    assert_user_error(invoke("train", str(config_file)), "already holds a run")
    assert invoke("train", str(config_file), "--overwrite").exit_code == 0


def _charnn_command() -> list[str]:
    script = Path(sys.executable).parent / "charnn"
    return [str(script)] if script.exists() else [shutil.which("charnn") or "charnn"]


def test_console_script_and_module_entry_points(subprocess_env: dict[str, str]) -> None:
    for command in (_charnn_command(), [sys.executable, "-m", "charnn"]):
        result = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, env=subprocess_env, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"charnn {__version__}")


@pytest.mark.slow
def test_the_three_commands_in_real_processes(
    config_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "charnn", *args],
            capture_output=True,
            text=True,
            env=subprocess_env,
            timeout=120,
        )

    trained = run("train", str(config_file))
    assert trained.returncode == 0, trained.stderr
    assert "step 10 | loss" in trained.stderr  # plain progress lines when stderr is not a terminal
    sampled = run(
        "sample", str(tmp_path / "run"), "--prime", "the", "--length", "40", "--seed", "2"
    )
    assert (
        sampled.returncode == 0 and sampled.stdout.startswith("the") and len(sampled.stdout) == 44
    )
    scored = run("eval", str(tmp_path / "run"), "--json")
    assert scored.returncode == 0 and json.loads(scored.stdout)["chars"] > 0
    failed = run("sample", str(tmp_path / "nope"))
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"charnn: error: {tmp_path / 'nope'} does not exist; "
        "give a run directory or a .pt checkpoint file"
    ]


def test_sampling_into_a_closed_pipe_stops_quietly(
    trained_run: Path, subprocess_env: dict[str, str]
) -> None:
    """`charnn sample RUN | head -c 20`: no traceback when the reader goes away."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "charnn",
            "sample",
            str(trained_run),
            "--length",
            "1000000",
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
    )
    assert process.stdout is not None and process.stderr is not None
    assert len(process.stdout.read(20)) == 20
    process.stdout.close()
    try:
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    assert process.stderr.read() == b""


@pytest.mark.slow
def test_ctrl_c_saves_and_resume_finishes_the_run(
    corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    config = tmp_path / "long.yaml"
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=100_000, eval_every=100_000)
    config.write_text(yaml.safe_dump(tree), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "charnn", "train", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env,
    )
    assert process.stderr is not None
    try:
        told = LineReader(process.stderr)
        told.wait_for(lambda line: line.startswith("step 20 |"), "training's step 20")
        process.send_signal(signal.SIGINT)
        rest = told.rest()
        assert process.wait(timeout=DEADLINE_S) == 130
    finally:
        process.kill()
    last_line = rest.strip().splitlines()[-1]
    assert last_line.startswith("charnn: stopped by SIGINT at step ")
    assert last_line.endswith(f"continue with --resume --out-dir {tmp_path / 'run'}")
    stopped_at = load_checkpoint(tmp_path / "run" / "last.pt").step
    assert stopped_at >= 20
    resumed = invoke(
        "train",
        "--resume",
        "--out-dir",
        str(tmp_path / "run"),
        "--set",
        f"train.max_steps={stopped_at + 10}",
    )
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(tmp_path / "run" / "last.pt").step == stopped_at + 10


def test_eval_in_windows_beside_the_carried_state(trained_run: Path) -> None:
    carried = json.loads(invoke("eval", str(trained_run), "--json").stdout)
    windowed = invoke("eval", str(trained_run), "--window", "8", "--json")
    assert windowed.exit_code == 0, windowed.output
    record = json.loads(windowed.stdout)
    assert record["window"] == 8 and carried["window"] is None
    assert record["chars"] == carried["chars"]
    assert record["loss"] > carried["loss"]  # 8 characters of context know less than all of them
    table = invoke("eval", str(trained_run), "--window", "8").stdout
    assert "val split in windows of 8 characters scored by" in table


@pytest.mark.parametrize(
    "command",
    [
        ["train"],
        ["sample"],
        ["eval"],
        ["predict"],
        ["info"],
        ["export"],
        ["plot"],
        ["config", "show"],
    ],
    ids=lambda command: " ".join(command),
)
def test_every_command_help_shows_an_example(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout, result.stdout


def test_shell_completion_completes_command_names(
    subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = subprocess_env | {
        "_CHARNN_COMPLETE": "complete_bash",
        "COMP_WORDS": "charnn in",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "charnn"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.split() == ["inspect", "info"], done.stdout + done.stderr
    # Without this, typer builds --show-completion as a flag that detects the shell from the
    # processes above this one, and ignores "bash": under a parent that is no shell (pytest
    # started in the background, an IDE), it prints nothing. Read when the app is built.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = invoke("--show-completion", "bash")
    assert "_charnn_completion" in script.stdout


# -- task: classify ------------------------------------------------------------------------------


def test_train_a_classifier_from_the_command_line(bits_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "bits"
    result = invoke(
        "train", "--data", str(bits_file), "--out-dir", str(run), "--device", "cpu",
        "--set", "task=classify", "--set", "model.hidden_size=16", "--set", "model.num_layers=1",
        "--set", "train.max_steps=30", "--set", "train.eval_every=15",
        "--set", "model.bidirectional=true", "--set", "model.pooling=max",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "examples/s" in result.stderr and "val loss" in result.stderr
    assert "best val accuracy" in result.stderr and f"charnn predict {run} TEXT" in result.stderr
    info = invoke("info", str(run))
    assert "task               classify" in info.stdout
    assert "bidirectional LSTM 1x16, max pooling" in info.stdout
    assert "labels             ones, zeros" in info.stdout


def test_predict_prints_what_the_api_returns(trained_classifier: Path) -> None:
    import charnn

    texts = ["0111011", "100", "1"]
    expected = charnn.load_model(trained_classifier).classify(texts, top_k=2)
    result = invoke("predict", str(trained_classifier), *texts, "--top-k", "2", "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["text"] for record in records] == texts
    assert [[tuple(pair) for pair in record["labels"]] for record in records] == expected
    assert "examples/s" in result.stderr
    plain = invoke("predict", str(trained_classifier), *texts)
    lines = plain.stdout.splitlines()
    assert lines[0] == f"{expected[0][0][0]} {expected[0][0][1]:.3f}\t0111011"
    assert [line.split()[0] for line in lines] == ["ones", "zeros", "ones"]


def test_predict_reads_a_file_or_stdin(trained_classifier: Path, tmp_path: Path) -> None:
    names = tmp_path / "lines.txt"
    names.write_text("111\n\n000\n")
    from_file = invoke("predict", str(trained_classifier), "--file", str(names))
    from_stdin = runner.invoke(
        app, ["predict", str(trained_classifier), "--file", "-"], input="111\n000\n"
    )
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0, from_stdin.output
    assert from_file.stdout == from_stdin.stdout and len(from_file.stdout.splitlines()) == 2


def test_eval_of_a_classifier_prints_its_scores_and_confusion(trained_classifier: Path) -> None:
    table = invoke("eval", str(trained_classifier), "--split", "test")
    assert table.exit_code == 0, table.output
    for line in ("accuracy", "macro-F1", "precision  recall", "confusion (rows: true label"):
        assert line in table.stdout
    result = invoke("eval", str(trained_classifier), "--json")
    record = json.loads(result.stdout)
    assert {"loss", "accuracy", "macro_f1", "examples", "per_class", "confusion", "labels"} <= set(
        record
    )
    assert record["labels"] == ["ones", "zeros"] and record["examples"] == 60
    assert sum(map(sum, record["confusion"])) == 60
    assert record["accuracy"] >= 0.9


# -- issue 30: the n-gram baseline ------------------------------------------------------------


def test_eval_scores_the_ngram_baseline_beside_the_network(trained_classifier: Path) -> None:
    record = json.loads(invoke("eval", str(trained_classifier), "--split", "test", "--json").stdout)
    assert set(record["baseline"]) == {"accuracy", "macro_f1"}
    assert record["network"] is None and record["mix_weight"] is None  # no mix: the network
    assert record["selected_by"] == "val accuracy on the val split"
    table = invoke("eval", str(trained_classifier))
    assert "chosen by its val accuracy on the val split" in table.stdout
    assert "flatter it; --split test or --file give held-out ones" in table.stdout
    assert (
        "baseline    accuracy" in table.stdout and "character 1-3-gram naive Bayes" in table.stdout
    )
    info = invoke("info", str(trained_classifier)).stdout
    assert "n-gram baseline    val accuracy" in info
    assert "n-gram acc" in invoke("runs", str(trained_classifier.parent)).stdout


def test_ngram_mix_combines_the_baseline_everywhere(bits_file: Path, tmp_path: Path) -> None:
    import charnn

    words = tmp_path / "words.tsv"
    rows = [f"de\t{w}" for w in ("hund katze maus vogel fisch baum haus " * 6).split()]
    rows += [f"en\t{w}" for w in ("dog cat mouse bird fish tree house " * 6).split()]
    words.write_text("\n".join(rows) + "\n")
    run = tmp_path / "mixed"
    result = invoke(
        "train", "--data", str(words), "--out-dir", str(run), "--device", "cpu",
        "--set", "task=classify", "--set", "model.hidden_size=16", "--set", "model.num_layers=1",
        "--set", "train.max_steps=20", "--set", "train.eval_every=10",
        "--set", "model.ngram_mix=true", "--set", "data.val_fraction=0.3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "n-gram baseline accuracy" in result.stderr and "the n-gram baseline's is" in result.stderr
    )
    model = charnn.load_model(run)
    weight = model.checkpoint.mix_weight
    assert weight is not None and weight > 0  # 20 steps: the counting baseline knows more
    record = json.loads(invoke("eval", str(run), "--json").stdout)
    assert record["mix_weight"] == weight and record["network"] is not None
    predicted = json.loads(invoke("predict", str(run), "hunde", "--json").stdout)
    assert [tuple(pair) for pair in predicted["labels"]] == model.classify(["hunde"])[0]
    exported = invoke("export", str(run), "--out", str(tmp_path / "m.pt"))
    assert exported.exit_code == 0 and "the exported model is the network alone" in exported.stderr


# -- issue 29: sequences of numbers -----------------------------------------------------------


def test_a_classifier_of_sequences_trains_and_shows_its_input(
    bits_file: Path, tmp_path: Path
) -> None:
    run = tmp_path / "values"
    result = invoke(
        "train", "--data", str(bits_file.with_suffix(".npz")), "--out-dir", str(run),
        "--device", "cpu", "--set", "task=classify", "--set", "model.hidden_size=16",
        "--set", "model.num_layers=1", "--set", "train.max_steps=20",
        "--set", "train.eval_every=10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "15 steps of 1 uint8 values, standardised" in result.stderr
    assert f"charnn predict {run} --file FILE.npz" in result.stderr
    info = invoke("info", str(run))
    assert "sequences of numbers: 15 steps x 1 features (uint8), standardised" in info.stdout
    record = json.loads(invoke("info", str(run), "--json").stdout)
    assert record["inputs"]["kind"] == "values" and record["vocab_size"] is None
    runs = invoke("runs", str(tmp_path))
    assert "values 15x1" in runs.stdout


def test_predict_and_eval_read_sequences_from_npz(
    trained_sequence_classifier: Path, tmp_path: Path
) -> None:
    import numpy as np

    import charnn

    run = str(trained_sequence_classifier)
    rows = tmp_path / "rows.npz"
    x = np.array([[1, 1, 0, 1, 1], [0, 0, 1, 0, 0], [1, 0, 1, 0, 0]], dtype=np.uint8)
    lengths = np.array([5, 5, 3])
    np.savez(rows, x=x, lengths=lengths)
    result = invoke("predict", run, "--file", str(rows), "--top-k", "2", "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["row"] for record in records] == [0, 1, 2]
    expected = charnn.load_model(run).classify([x[0], x[1], x[2, :3]], top_k=2)
    assert [[tuple(pair) for pair in record["labels"]] for record in records] == expected
    assert [labels[0][0] for labels in expected] == ["ones", "zeros", "ones"]
    assert "classified 3 sequence(s)" in result.stderr
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, x=x, lengths=lengths, y=np.array(["ones", "zeros", "ones"]))
    for flag in ("--file", "--text-file"):  # the old name still works
        scored = json.loads(invoke("eval", run, flag, str(labelled), "--json").stdout)
        assert scored["examples"] == 3 and scored["accuracy"] == 1.0
    test = invoke("eval", run, "--split", "test")
    assert test.exit_code == 0 and "accuracy" in test.stdout and "examples    60" in test.stdout


# -- issue 24: help and completion ------------------------------------------------------------


def test_help_keeps_the_extras_names_in_square_brackets() -> None:
    """Rich markup read `[plot]` and `[onnx]` as style tags and dropped them."""
    assert "(needs charnn[plot])" in invoke("--help").stdout
    assert "pip install 'charnn[onnx]'" in " ".join(invoke("export", "--help").stdout.split())


@pytest.mark.parametrize("command", [["eval"], ["train"], ["predict"]])
def test_flags_show_no_value_in_help(command: list[str]) -> None:
    text = invoke(*command, "--help").stdout
    assert "<bool>" not in text and "BOOLEAN" not in text
    commands = invoke("--help").stdout.split("Commands:")[1]
    assert not [line for line in commands.splitlines() if line.endswith("...")]  # whole


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("charnn export runs/x --format ", ["torchscript", "onnx"]),
        ("charnn eval runs/x --split ", ["val", "test", "train"]),
        ("charnn eval runs/x --unknown-chars ", ["error", "drop", "replace"]),
        ("charnn eval runs/x --errors ", ["strict", "replace", "ignore"]),
        ("charnn sample runs/x --device c", ["cpu", "cuda"]),
        ("charnn train --set model.hid", ["model.hidden_size="]),
        ("charnn config show --set train.l", ["train.lr=", "train.log_every="]),
    ],
)
def test_completion_offers_the_choices(
    words: str, expected: list[str], subprocess_env: dict[str, str]
) -> None:
    env = subprocess_env | {
        "_CHARNN_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "charnn"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.split() == expected, done.stdout + done.stderr
