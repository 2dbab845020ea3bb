"""Training in several processes: torchrun, gloo on 127.0.0.1, DistributedDataParallel.

The subprocess tests start real torchrun runs of 2 CPU processes, so they are marked slow:
`pytest` skips them, `bash scripts/test.sh` (CI) runs them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.artifacts.metrics import MetricsLog
from charnn.data.streams import TrainStreams
from charnn.errors import ConfigError
from charnn.training.world import join_world

from ..conftest import tiny_classify_tree, tiny_tree

STEPS = 30


def test_shards_of_the_streams_are_the_streams_cut_by_rows() -> None:
    ids = torch.arange(100)
    whole = TrainStreams(ids, batch_size=4, seq_len=5)
    shares = [TrainStreams(ids, batch_size=4, seq_len=5).shard(rank, 2) for rank in range(2)]
    for step in range(3):
        inputs, targets, _ = whole.window(step)
        parts = [share.window(step) for share in shares]
        assert torch.equal(torch.cat([part[0] for part in parts]), inputs)
        assert torch.equal(torch.cat([part[1] for part in parts]), targets)
    assert shares[0].windows_per_epoch == whole.windows_per_epoch


def test_a_batch_that_does_not_divide_among_the_processes_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"train.batch_size \(6\) is the global batch.*4"):
        TrainStreams(torch.arange(200), batch_size=6, seq_len=5).shard(0, 4)


def test_torchrun_variables_that_are_not_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "zero")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ConfigError, match="start charnn with torchrun"):
        join_world(torch.device("cpu"))


# -- real processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(
    corpus: Path,
    run: Path,
    *,
    dropout: float = 0.0,
    schedule: str = "cosine",
    task: str = "lm",
) -> Path:
    """A tiny run's config; for `task: classify`, `corpus` is a labelled file."""
    tree = (tiny_classify_tree if task == "classify" else tiny_tree)(
        corpus, run, max_steps=STEPS, eval_every=10, log_every=1, schedule=schedule
    )
    tree["model"]["dropout"] = dropout  # type: ignore[index]
    path = run.parent / f"{run.name}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def charnn(
    config: Path,
    *extra: str,
    env: dict[str, str],
    processes: int = 1,
    program: list[str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """`charnn train` (or `program`: a script standing in for `-m charnn`), under torchrun when
    `processes` > 1; a run that hangs fails with the end of what it wrote."""
    program = program or ["-m", "charnn"]
    if processes == 1:
        launcher = program
    else:
        launcher = [
            "-m",
            "torch.distributed.run",
            f"--nproc-per-node={processes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint=127.0.0.1:{free_port()}",
            *program,
        ]
    try:
        done = subprocess.run(
            [sys.executable, *launcher, "train", str(config), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as hung:
        stderr = hung.stderr.decode(errors="replace") if isinstance(hung.stderr, bytes) else ""
        pytest.fail(f"hung for {timeout:.0f} s; its stderr ended:\n{stderr[-3000:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def patched_charnn(script: Path, patch: str) -> list[str]:
    """A script standing in for `-m charnn` (for `charnn`'s `program`) that runs `patch` first."""
    script.write_text(
        f'{patch}\nimport sys\nfrom charnn.cli import main\nsys.argv[0] = "charnn"\nmain()\n'
    )
    return [str(script)]


def train_losses(run: Path) -> dict[int, float]:
    return {
        record["step"]: record["loss"]
        for record in MetricsLog(run / "metrics.jsonl").read()
        if record["event"] == "train"
    }


def assert_same_training(expected_run: Path, run: Path) -> None:
    """Every step's loss and the final weights, with the same parameter names, to 1e-5."""
    expected, got = train_losses(expected_run), train_losses(run)
    assert sorted(got) == list(range(1, STEPS + 1)) == sorted(expected)
    for step in expected:
        assert got[step] == pytest.approx(expected[step], abs=1e-5), step
    one, two = load_checkpoint(expected_run / "last.pt"), load_checkpoint(run / "last.pt")
    assert sorted(two.model_state) == sorted(one.model_state)
    for name, weight in one.model_state.items():
        torch.testing.assert_close(two.model_state[name], weight, atol=1e-5, rtol=0)


@pytest.fixture
def distributed_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    env = dict(subprocess_env)
    env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo on 127.0.0.1, whatever the host name resolves to
    return env


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(
    corpus_file: Path, tmp_path: Path, distributed_env: dict[str, str]
) -> None:
    single = tmp_path / "single"
    charnn(write_config(corpus_file, single), env=distributed_env)
    double = tmp_path / "double"
    done = charnn(write_config(corpus_file, double), env=distributed_env, processes=2)

    assert_same_training(single, double)
    one, two = load_checkpoint(single / "last.pt"), load_checkpoint(double / "last.pt")
    assert two.step == STEPS and two.val_loss == pytest.approx(one.val_loss, abs=1e-5)
    # The checkpoint holds all 4 streams' state, gathered from both processes, and both RNGs.
    assert two.hidden[0].shape == one.hidden[0].shape == (1, 4, 32)
    torch.testing.assert_close(two.hidden[0], one.hidden[0], atol=1e-5, rtol=0)
    assert len(two.rank_rngs) == 2 and not one.rank_rngs
    # Rank 0 alone logs: each progress line appears once.
    assert done.stderr.count(f"step {STEPS} |") == 1, done.stderr[-2000:]


@pytest.mark.slow
def test_two_gloo_processes_classify_as_one_process_with_the_same_global_batch(
    bits_file: Path, tmp_path: Path, distributed_env: dict[str, str]
) -> None:
    """Each rank takes half of every batch of examples; the steps are the one process's."""
    single, double = tmp_path / "single", tmp_path / "double"
    charnn(write_config(bits_file, single, task="classify"), env=distributed_env)
    charnn(write_config(bits_file, double, task="classify"), env=distributed_env, processes=2)
    assert_same_training(single, double)
    one, two = load_checkpoint(single / "last.pt"), load_checkpoint(double / "last.pt")
    assert two.val_loss == pytest.approx(one.val_loss, abs=1e-5) and two.labels == one.labels


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lm", "classify"])
def test_resume_under_torchrun_continues_exactly(
    corpus_file: Path, bits_file: Path, tmp_path: Path, distributed_env: dict[str, str], task: str
) -> None:
    # Dropout on, so each process's RNG must come back too, not only weights and states. A
    # constant lr, so that stopping early with a lower max_steps changes nothing else.
    whole, split = tmp_path / "whole", tmp_path / "split"
    data = bits_file if task == "classify" else corpus_file
    for run in (whole, split):
        write_config(data, run, dropout=0.2, schedule="constant", task=task)
    charnn(tmp_path / "whole.yaml", env=distributed_env, processes=2)
    config = tmp_path / "split.yaml"
    half = ["--set", f"train.max_steps={STEPS // 2}"]
    charnn(config, *half, env=distributed_env, processes=2)
    charnn(config, "--resume", env=distributed_env, processes=2)

    assert train_losses(split) == train_losses(whole)
    final, expected = load_checkpoint(split / "last.pt"), load_checkpoint(whole / "last.pt")
    for name, weight in expected.model_state.items():
        assert torch.equal(final.model_state[name], weight), name


# Rank 0 enters the training loop 2 s after rank 1, as when its own start-up work (the run
# directory, logging) takes longer: each rank's local clock then reads differently.
LATE_RANK_ZERO = """
import os, time
from charnn.training import loop as trainer
if os.environ["RANK"] == "0":
    loop = trainer.Run.loop
    def late_loop(self, *args, **kwargs):
        time.sleep(2)
        return loop(self, *args, **kwargs)
    trainer.Run.loop = late_loop
"""


@pytest.mark.slow
def test_ranks_whose_clocks_disagree_finish_together(
    corpus_file: Path, tmp_path: Path, distributed_env: dict[str, str]
) -> None:
    # The last step is also an evaluation step, after which the run decides whether the
    # clock ran on since that save; every rank must decide it alike (by rank 0's clock),
    # or one waits forever in a collective the other never joins.
    run = tmp_path / "run"
    config = write_config(corpus_file, run)
    program = patched_charnn(tmp_path / "late_rank_zero.py", LATE_RANK_ZERO)
    charnn(config, env=distributed_env, processes=2, program=program, timeout=90)
    assert load_checkpoint(run / "last.pt").step == STEPS


# The eager backend (no C++ compiler, seconds), recording each graph TorchDynamo hands it.
RECORDING_BACKEND = """
import os, sys
import charnn.platform.compile
def recording_backend(graph, example_inputs):
    print(f"rank {os.environ['RANK']} compiled a graph of {len(graph.graph.nodes)} nodes",
          file=sys.stderr, flush=True)
    return graph.forward
charnn.platform.compile.COMPILE_BACKEND = recording_backend
"""


@pytest.mark.slow
def test_a_compiled_run_under_torchrun_matches_one_eager_process(
    corpus_file: Path, tmp_path: Path, distributed_env: dict[str, str]
) -> None:
    single = tmp_path / "single"
    charnn(write_config(corpus_file, single), env=distributed_env)
    compiled = tmp_path / "compiled"
    program = patched_charnn(tmp_path / "recording_backend.py", RECORDING_BACKEND)
    done = charnn(
        write_config(corpus_file, compiled),
        "--set",
        "train.compile=true",
        env=distributed_env,
        processes=2,
        program=program,
    )
    # Both processes ran their steps through TorchDynamo's graphs...
    for rank in (0, 1):
        assert f"rank {rank} compiled a graph" in done.stderr, done.stderr[-3000:]
    # ...and computed what one uncompiled process computes with the same global batch, saving
    # the uncompiled model's parameter names.
    assert_same_training(single, compiled)
