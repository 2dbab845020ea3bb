"""`charnn plot`: training and validation loss of one or more runs, against step and wall time.

Reads each run's metrics.jsonl (the source of truth for every figure charnn shows) and draws
one PNG with two panels side by side: loss against step, and loss against seconds of training.
Training loss is a solid line, validation loss a dashed line with markers, one colour per run,
the legend naming each run by its directory. matplotlib is an optional extra
(`pip install 'charnn[plot]'`), imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charnn.artifacts.metrics import MetricsLog
from charnn.artifacts.run_dir import METRICS_NAME
from charnn.errors import CharnnError

LINES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("train", "loss", "train", {"linestyle": "-"}),
    ("eval", "val_loss", "val", {"linestyle": "--", "marker": "o", "markersize": 3}),
)
"""(metrics event, loss key, legend word, line style) for each kind of curve."""
INSTALL_HINT = "charnn plot needs matplotlib; install it with: pip install 'charnn[plot]'"


def plot_runs(runs: list[Path], out: Path) -> Path:
    """Draw the runs' losses into `out` (a .png); returns it."""
    if not runs:
        raise CharnnError("give at least one run directory to plot")
    curves = [(run, _records(run)) for run in runs]
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        from matplotlib import pyplot
    except ImportError:
        raise CharnnError(INSTALL_HINT) from None
    figure, (by_step, by_time) = pyplot.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for index, (run, records) in enumerate(curves):
        colour = f"C{index % 10}"
        for event, key, name, style in LINES:
            points = [r for r in records if r.get("event") == event and r.get(key) is not None]
            if not points:
                continue
            losses = [point[key] for point in points]
            for axes, x in ((by_step, "step"), (by_time, "elapsed_s")):
                axes.plot(
                    [point[x] for point in points],
                    losses,
                    color=colour,
                    label=f"{run.name} {name}",
                    **style,
                )
    by_step.set_xlabel("step")
    by_time.set_xlabel("seconds of training")
    for axes in (by_step, by_time):
        axes.set_ylabel("loss (nats/char)")
        axes.grid(alpha=0.3)
    by_time.legend(fontsize="small")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    pyplot.close(figure)
    return out


def _records(run: Path) -> list[dict[str, Any]]:
    path = run / METRICS_NAME if run.is_dir() else run
    records = MetricsLog(path).read()
    if not records:
        raise CharnnError(
            f"{run} has no training metrics ({METRICS_NAME}); give a run directory that "
            "charnn train has written to"
        )
    return records
