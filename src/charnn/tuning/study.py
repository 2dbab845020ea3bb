"""`charnn tune`: an Optuna study whose trials are ordinary charnn runs.

Each trial samples the search space (charnn.tuning.space), trains a run of its own in the study
directory (`trial-007/`, which `charnn runs`, `info` and `plot` read as any run) for the same
time, and reports each evaluation's score to Optuna: the task's val loss (lower is better) or
val accuracy (higher). The median pruner stops a trial that is behind the others at the same
point of its time, comparing trials by seconds of training rather than steps, since a trial's
batch size sets its steps per second. A pruned trial's run says so (`stopped_by: pruned`).

The study lives in a database: by default SQLite in the study directory, or any Optuna storage
URL (PostgreSQL for workers on several machines). Workers started with the same directory or URL
join one study: Optuna gives each trial its number atomically, `--trials` counts the study's
trials (each worker stops once that many exist), and a heartbeat marks the trial of a worker
that died as failed, so the others go on. At the end, `best.yaml` in the study directory is the
best trial's config, ready for `charnn train`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charnn.config import config_from_dict, config_to_yaml, load_config, read_yaml
from charnn.errors import CharnnError, TrainingInterrupted, key
from charnn.tuning.space import Dimension, search_space

logger = logging.getLogger(__name__)

STUDY_NAME = "charnn"
DB_NAME = "study.db"
BEST_NAME = "best.yaml"
HEARTBEAT_S = 10
"""How often a running trial says it is alive; one silent for 3 of these is failed."""
CONNECT_TRIES = 8
CREATION_RACE = ("already exists", "UNIQUE constraint", "duplicate key", "IntegrityError")
"""What a database says to the second of two workers creating its tables at once."""
PRUNE_BUCKETS = 20
"""Trials are compared at this many points of their time budget."""
OPTUNA_MISSING = (
    "charnn tune needs Optuna, which is not installed; install it with: pip install 'charnn[tune]'"
)


@dataclasses.dataclass
class TuneSummary:
    study_dir: Path
    trials: int
    """Trials in the study (every worker's), finished or not."""
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    best_yaml: Path | None
    score_name: str
    seconds: float


def tune(
    config_file: Path | None,
    overrides: Sequence[str],
    *,
    study_dir: Path,
    trials: int | None,
    time_budget: float | None,
    trial_time: float,
    storage: str | None = None,
    resume: bool = False,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuneSummary:
    """Run trials until the study has `trials` of them or `time_budget` seconds have passed."""
    optuna = _optuna()
    if trials is None and time_budget is None:
        raise CharnnError(
            f"give {key('trials', 'N')} or {key('time_budget', '30m')}; with neither, tuning "
            "never stops"
        )
    if trials is not None and trials < 1:
        raise CharnnError(f"{key('trials')} must be at least 1; got {trials}")
    if trial_time <= 0:
        raise CharnnError(f"{key('trial_time')} must be above 0 seconds; got {trial_time}")
    base = load_config(config_file, overrides)  # the config must be valid before any trial
    section = _tune_section(config_file)
    space = search_space(base.task, section)
    minimize = base.task == "lm"
    score_name = "val loss" if minimize else "val accuracy"
    study_dir.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(study_dir / DB_NAME).resolve()}"
    study = _open_study(optuna, url, minimize=minimize, resume=resume)
    started = time.perf_counter()

    def objective(trial: Any) -> float:
        return _run_trial(
            optuna, trial, config_file, overrides, space, study_dir, trial_time, minimize
        )

    def report(study: Any, trial: Any) -> None:
        if on_trial is not None:
            on_trial(
                {
                    "number": trial.number,
                    "state": trial.state.name.lower(),
                    "value": trial.value,
                    "params": trial.params,
                    "score_name": score_name,
                }
            )

    stop_at = optuna.study.MaxTrialsCallback(trials, states=None) if trials else None
    try:
        study.optimize(
            objective,
            timeout=time_budget,
            callbacks=[report, *([stop_at] if stop_at else [])],
            gc_after_trial=True,
        )
    except TrainingInterrupted as error:  # Ctrl-C: the trial saved its run; Optuna failed it
        raise TrainingInterrupted(
            f"tuning stopped; the trial under way is marked failed; continue the study with the "
            f"same command and {key('resume', True)}",
            signal_number=error.exit_code - 128,
        ) from None
    return _summary(optuna, study, study_dir, score_name, time.perf_counter() - started)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise CharnnError(OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The heartbeat that fails a dead worker's trial is marked experimental; it is what we use.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _tune_section(config_file: Path | None) -> Mapping[str, Any] | None:
    if config_file is None:
        return None
    from charnn.presets import resolve_config_file

    tree = read_yaml(resolve_config_file(config_file))
    section = tree.get("tune")
    if section is not None and not isinstance(section, Mapping):
        raise CharnnError(f"the tune: section of {config_file} must map config keys to ranges")
    return section


def _open_study(optuna: Any, url: str, *, minimize: bool, resume: bool) -> Any:
    storage, existing = _connect(optuna, url)
    direction = "minimize" if minimize else "maximize"
    if STUDY_NAME in existing:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        if study.direction.name.lower() != direction:
            raise CharnnError(
                f"the study at {url} {study.direction.name.lower()}s, this config's task would "
                "not; use another study directory or storage for another task"
            )
        running = [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
        if not running and study.trials and not resume:
            raise CharnnError(
                f"the study at {url} has {len(study.trials)} trial(s) and none running; continue "
                f"it with {key('resume', True)}, or start another in a new study directory"
            )
        return study
    return optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction=direction,
        sampler=optuna.samplers.TPESampler(),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
        load_if_exists=True,  # another worker may have created it a moment ago
    )


def _connect(optuna: Any, url: str) -> tuple[Any, list[str]]:
    """(the storage, the names of the studies in it). Two workers starting together may both
    create the tables of a new database; the one that loses that race opens it again."""
    for attempt in range(CONNECT_TRIES):
        try:
            storage = optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=3 * HEARTBEAT_S,
                engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {},
            )
            return storage, optuna.study.get_all_study_names(storage)
        except Exception as error:  # noqa: BLE001: a bad URL, a missing driver, no server
            racing = any(sign in str(error) for sign in CREATION_RACE)
            if racing and attempt + 1 < CONNECT_TRIES:
                time.sleep(0.1 * (attempt + 1))
                continue
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise CharnnError(
                f"could not open the study at {url} ({first_line}); check {key('storage')}"
            ) from None
    raise AssertionError("unreachable")


def _run_trial(
    optuna: Any,
    trial: Any,
    config_file: Path | None,
    overrides: Sequence[str],
    space: list[Dimension],
    study_dir: Path,
    trial_time: float,
    minimize: bool,
) -> float:
    from charnn.training.loop import train

    sampled = [f"{dimension.key}={_yaml(dimension.sample(trial))}" for dimension in space]
    run_dir = study_dir / f"trial-{trial.number:03d}"
    config = load_config(
        config_file,
        [
            *overrides,
            *sampled,
            f"out_dir={run_dir}",
            "train.max_steps=null",
            "train.max_epochs=null",
            f"train.max_time={trial_time}",
        ],
    )
    bucket = trial_time / PRUNE_BUCKETS
    reported: set[int] = set()

    def on_evaluation(seconds: float, val_loss: float, score: float) -> bool:
        point = int(seconds / bucket)
        value = val_loss if minimize else score
        if point in reported or not math.isfinite(value):
            return True
        reported.add(point)
        trial.report(value, point)
        return not trial.should_prune()

    summary = train(config, overwrite=True, on_evaluation=on_evaluation)
    if len(reported) < 2:
        logger.warning(
            "trial %d was evaluated only once, at its end, so the pruner cannot compare it "
            "with the others as it trains; for pruning, evaluate more often (a lower "
            "train.eval_every)",
            trial.number,
        )
    if summary.stopped_by == "pruned":
        raise optuna.TrialPruned()
    value = summary.best_val_loss if minimize else summary.best_score
    if value is None:
        raise CharnnError(f"trial {trial.number} was never evaluated; lower train.eval_every")
    return float(value)


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _summary(
    optuna: Any, study: Any, study_dir: Path, score_name: str, seconds: float
) -> TuneSummary:
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not finished:
        return TuneSummary(study_dir, len(study.trials), None, None, {}, None, score_name, seconds)
    best = study.best_trial
    best_yaml = study_dir / BEST_NAME
    run_dir = study_dir / f"trial-{best.number:03d}"
    config = config_from_dict(read_yaml(run_dir / "config.yaml"))
    config = dataclasses.replace(config, out_dir=f"runs/{study_dir.name}-best")
    header = (
        f"# The best trial of the charnn tune study in {study_dir}: trial {best.number}, "
        f"{score_name} {best.value:.4f} after {config.train.max_time:g} s.\n"
        f"# Train it with: charnn train {best_yaml}\n"
    )
    best_yaml.write_text(header + config_to_yaml(config), encoding="utf-8")
    return TuneSummary(
        study_dir,
        len(study.trials),
        best.number,
        float(best.value),
        dict(best.params),
        best_yaml,
        score_name,
        seconds,
    )
