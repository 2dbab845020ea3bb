"""What the measuring scripts share: the machine's name, the command that reruns a script,
running charnn as a user would, the cells' names in tables, waiting for a GPU before reading a
clock, timing contenders side by side in rounds, and rewriting a generated block between two
markers of a Markdown file."""

from __future__ import annotations

import dataclasses
import platform
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "tanh RNN (SimpleRNN)"}


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so that a clock read next times it (CPU: nothing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclasses.dataclass(frozen=True)
class Rounds:
    """Speeds of several contenders, each timed once per round (see `in_rounds`)."""

    speeds: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.speeds[name])

    def ratios(self, over: str, under: str) -> list[float]:
        """`over`'s speed over `under`'s, round by round."""
        return [a / b for a, b in zip(self.speeds[over], self.speeds[under], strict=True)]

    def ratio(self, over: str, under: str) -> float:
        """The median of the rounds' ratios.

        On a shared machine the speed of everything drifts over seconds (the same loop was
        seen at 26 and at 37 ms a step within a minute here), and contenders timed back to back
        drift together: their ratio within a round cancels most of it, where the best of each
        side's runs compares timings taken at different moments.
        """
        return statistics.median(self.ratios(over, under))

    def ratio_range(self, over: str, under: str) -> str:
        """The lowest and highest of the rounds' ratios, as `0.97-1.02`."""
        ratios = self.ratios(over, under)
        return f"{min(ratios):.2f}-{max(ratios):.2f}"

    def log(self, what: str) -> None:
        """Every round's speeds on stderr: tables keep medians, the log what they came from."""
        for name, speeds in self.speeds.items():
            listed = " ".join(f"{speed:,.0f}" for speed in speeds)
            print(f"{what}: {name} {listed}", file=sys.stderr)


def in_rounds(contenders: dict[str, Callable[[], float]], rounds: int) -> Rounds:
    """Time every contender (each returns its speed) once per round: in the order given in
    even rounds, in the reverse order in odd ones, so that neither what ran just before nor a
    drift within a round favours one side."""
    speeds: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(rounds):
        order = list(contenders) if round_number % 2 == 0 else list(reversed(contenders))
        for name in order:
            speeds[name].append(contenders[name]())
    return Rounds(speeds)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rerun_command(script: str, argv: list[str] | None = None) -> str:
    """`python scripts/NAME.py ARGS` as this run was started (`argv`: its arguments, when the
    script's main was called with them rather than from the command line)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"scripts/{Path(script).name}", *args])


def charnn(*args: str, env: dict[str, str]) -> str:
    """Run `python -m charnn ARGS` from the repository root; stop the script if it fails."""
    command = [sys.executable, "-m", "charnn", *args]
    print("$ charnn " + " ".join(args), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"charnn {args[0]} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of the generated block `name` in a Markdown file."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(path: Path, start: str, end: str, body: str, *, append: bool = True) -> None:
    """Put `body` between the `start` and `end` markers of `path`, keeping the text around them.
    Without the markers the block is appended (or, with `append=False`, that is an error)."""
    block = f"{start}\n{body}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    found = len(pattern.findall(text))
    if found > 1:
        sys.exit(f"{path} has {found} {start} ... {end} blocks; keep one")
    if found:
        text = pattern.sub(lambda _: block, text)
    elif append:
        text = (text.rstrip("\n") + "\n\n" if text else "# Benchmarks\n\n") + block + "\n"
    else:
        sys.exit(f"{path} has no {start} ... {end} block to update")
    path.write_text(text, encoding="utf-8")
