"""charnn tune end to end on a tiny corpus: trials are runs, best.yaml trains, workers share."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from charnn.cli import app
from charnn.config import load_config

from ..conftest import tiny_tree
from ..waiting import DEADLINE_S, wait_until

pytest.importorskip("optuna")
# The default study store is SQLite, an optional part of Python's standard library: on a Python
# built without it these tests skip, saying so (the PostgreSQL one with them).
SQLITE = pytest.importorskip("sqlite3", reason="this Python was built without sqlite3")

SPACE = {
    "tune": {
        "train.lr": {"low": 1e-3, "high": 1e-2, "log": True},
        "model.hidden_size": [16, 32],
        "model.num_layers": 1,
        "model.embedding_dim": 8,
        "train.batch_size": [4, 8],
        "train.seq_len": 16,
        "model.dropout": 0.0,
        "train.weight_decay": 0.0,
    }
}


def tiny_config(corpus_file: Path, folder: Path) -> Path:
    tree = tiny_tree(corpus_file, folder / "unused", eval_every=5, log_every=1000)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**tree, **SPACE}))
    return path


def tune_args(config: Path, study: Path, *extra: str) -> list[str]:
    return ["tune", str(config), "--study", str(study), "--trial-time", "1s", *extra]


def test_a_study_runs_trials_as_runs_and_writes_a_trainable_best_yaml(
    corpus_file: Path, tmp_path: Path
) -> None:
    config, study = tiny_config(corpus_file, tmp_path), tmp_path / "study"
    result = CliRunner().invoke(app, tune_args(config, study, "--trials", "3"))
    assert result.exit_code == 0, result.output
    assert "best: trial" in result.stderr and f"charnn train {study / 'best.yaml'}" in result.stderr
    trials = sorted(path.name for path in study.glob("trial-*"))
    assert trials == ["trial-000", "trial-001", "trial-002"]
    best = load_config(study / "best.yaml")  # a config charnn train takes as it is
    assert best.model.hidden_size in (16, 32) and best.train.max_time == 1.0
    assert "# The best trial of the charnn tune study" in (study / "best.yaml").read_text()
    runs = json.loads(
        CliRunner().invoke(app, ["runs", str(study), "--json"]).stdout.splitlines()[0]
    )
    assert runs["name"] == "trial-000" and runs["state"] == "finished"
    # A stopped study is continued on purpose only.
    again = CliRunner().invoke(app, tune_args(config, study, "--trials", "4"))
    assert again.exit_code == 2 and "continue it with --resume" in again.stderr
    resumed = CliRunner().invoke(app, tune_args(config, study, "--trials", "4", "--resume"))
    assert resumed.exit_code == 0, resumed.output
    assert len(list(study.glob("trial-*"))) == 4  # --trials counts the study's trials


def test_without_a_limit_or_optuna_it_says_what_to_do(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config(corpus_file, tmp_path)
    result = CliRunner().invoke(app, tune_args(config, tmp_path / "s"))
    assert result.exit_code == 2 and "give --trials N or --time 30m" in result.stderr
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed
    missing = CliRunner().invoke(app, tune_args(config, tmp_path / "s", "--trials", "1"))
    assert missing.exit_code == 2 and "pip install 'charnn[tune]'" in missing.stderr


@pytest.mark.slow
def test_two_workers_share_one_study_without_losing_or_repeating_a_trial(
    corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    config, study = tiny_config(corpus_file, tmp_path), tmp_path / "study"
    command = [sys.executable, "-m", "charnn", *tune_args(config, study, "--trials", "6")]
    workers = [
        subprocess.Popen(command, env=subprocess_env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=DEADLINE_S)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    import optuna

    trials = optuna.load_study(
        study_name="charnn", storage=f"sqlite:///{study / 'study.db'}"
    ).trials
    assert sorted(trial.number for trial in trials) == list(range(len(trials)))
    assert 6 <= len(trials) <= 7  # a worker may start one as the other's sixth begins
    assert sorted(path.name for path in study.glob("trial-*")) == [
        f"trial-{trial.number:03d}" for trial in sorted(trials, key=lambda t: t.number)
    ]
    assert all(trial.state.name in ("COMPLETE", "PRUNED") for trial in trials)


POSTGRES_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


@pytest.mark.slow
@pytest.mark.skipif(POSTGRES_BIN is None, reason="needs PostgreSQL's server binaries")
def test_a_study_in_a_real_postgresql_server(corpus_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    assert POSTGRES_BIN is not None
    # Not under tmp_path: pytest's folders are private to this user, and PostgreSQL refuses to
    # run as root, so the server runs as the postgres user where it is root that runs the tests.
    home = Path(tempfile.mkdtemp(prefix="charnn-pg-"))
    data, socket_dir = home / "data", home / "sock"
    socket_dir.mkdir()
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if user:
        for path in (home, socket_dir):
            shutil.chown(path, "postgres")
    subprocess.run(
        [*user, str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "charnn", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [
            *user,
            str(POSTGRES_BIN / "postgres"),
            "-D",
            str(data),
            "-k",
            str(socket_dir),
            "-p",
            port,
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import psycopg

        def ready() -> bool:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=port, user="charnn", dbname="postgres"
                ).close()
            except psycopg.OperationalError:
                return False
            return True

        wait_until(ready, "the PostgreSQL server accepting connections", process=server)
        config, study = tiny_config(corpus_file, tmp_path), tmp_path / "study"
        url = f"postgresql://charnn@127.0.0.1:{port}/postgres"
        result = CliRunner().invoke(
            app, tune_args(config, study, "--trials", "2", "--storage", url)
        )
        assert result.exit_code == 0, result.output
        assert not (study / "study.db").exists()  # the study lives in the server
        import optuna

        assert len(optuna.load_study(study_name="charnn", storage=url).trials) == 2
    finally:
        # runuser does not pass signals on: stop the server itself, then the wrapper ends.
        stop = [str(POSTGRES_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast"]
        subprocess.run([*user, *stop], capture_output=True, timeout=DEADLINE_S)
        server.wait(timeout=DEADLINE_S)
        shutil.rmtree(home, ignore_errors=True)


def test_a_dead_workers_trial_is_failed_and_the_study_goes_on(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from charnn.tuning import study as tuning

    monkeypatch.setattr(tuning, "HEARTBEAT_S", 1)
    config, study_dir = tiny_config(corpus_file, tmp_path), tmp_path / "study"
    study_dir.mkdir()
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{study_dir / 'study.db'}", heartbeat_interval=1, grace_period=3
    )
    study = optuna.create_study(study_name="charnn", storage=storage, direction="minimize")
    orphan = study.ask()  # a worker took this trial, beat once, then died
    storage.record_heartbeat(orphan._trial_id)

    def failed() -> bool:
        optuna.storages.fail_stale_trials(study)
        return study.trials[0].state.name == "FAIL"

    wait_until(failed, "the silent trial failed by its missing heartbeat")
    summary = tuning.tune(
        config, [], study_dir=study_dir, trials=3, time_budget=None, trial_time=1.0, resume=True
    )
    states = [
        trial.state.name for trial in optuna.load_study(study_name="charnn", storage=storage).trials
    ]
    assert states[0] == "FAIL" and len(states) == 3 and summary.best_trial in (1, 2)
