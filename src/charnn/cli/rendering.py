"""What the commands print beyond a line: streamed samples, a classifier's score table, and a
config annotated with where each value came from."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch-heavy: the commands import it when they run
    from charnn.inference.classifier import ClassifyResult


def print_samples(steps: Iterator[list[str]], *, prime: str, num_samples: int) -> None:
    """Stream the first sample live; the others (generated in the same batch) follow it."""
    out = sys.stdout
    if num_samples > 1:
        out.write("--- sample 1 ---\n")
    out.write(prime)
    out.flush()
    others: list[list[str]] = [[] for _ in range(num_samples - 1)]
    last_flush = time.monotonic()
    for chars in steps:
        out.write(chars[0])
        for buffer, char in zip(others, chars[1:], strict=True):
            buffer.append(char)
        if chars[0] == "\n" or time.monotonic() - last_flush > 0.05:
            out.flush()
            last_flush = time.monotonic()
    out.write("\n")
    for index, buffer in enumerate(others, start=2):
        out.write(f"--- sample {index} ---\n{prime}{''.join(buffer)}\n")
    out.flush()


def classify_table(result: ClassifyResult) -> str:
    """A ClassifyResult as aligned lines: the scores, per-class scores, confusion matrix."""
    lines = [
        f"  loss        {result.loss:.4f} nats",
        f"  accuracy    {result.accuracy:.4f}",
        f"  macro-F1    {result.macro_f1:.4f}",
        f"  examples    {result.examples:,}",
        f"  speed       {result.examples_per_s:,.0f} examples/s ({result.seconds:.2f}s)",
    ]
    if result.network is not None:
        lines.append(
            f"  network     accuracy {result.network['accuracy']:.4f}, macro-F1 "
            f"{result.network['macro_f1']:.4f} alone (the figures above add the n-gram "
            f"baseline at weight {result.mix_weight:g})"
        )
    if result.baseline is not None:
        verdict = "beats" if result.accuracy > result.baseline["accuracy"] else "does not beat"
        lines.append(
            f"  baseline    accuracy {result.baseline['accuracy']:.4f}, macro-F1 "
            f"{result.baseline['macro_f1']:.4f}: character 1-3-gram naive Bayes on the same "
            f"examples; the model {verdict} it"
        )
    for label, count in result.unseen_labels.items():
        lines.append(f"  unseen label {label!r}: {count} example(s), scored as wrong")
    width = max(5, *(len(label) for label in result.labels))
    lines.append("")
    lines.append(f"  {'label':<{width}}  precision  recall     f1  support")
    for label, scores in result.per_class.items():
        lines.append(
            f"  {label:<{width}}  {scores['precision']:9.4f}  {scores['recall']:6.4f}  "
            f"{scores['f1']:.4f}  {scores['support']:7d}"
        )
    cell = max(5, *(len(str(value)) for row in result.confusion for value in row))
    lines.append("")
    lines.append("  confusion (rows: true label, columns: predicted, in the order above)")
    for label, row in zip(result.labels, result.confusion, strict=True):
        counts = " ".join(f"{value:>{cell}}" for value in row)
        lines.append(f"  {label:<{width}}  {counts}")
    return "\n".join(lines)


def annotate(yaml_text: str, origin: dict[str, str]) -> str:
    """Append `# <source>` to each leaf line of a two-level YAML dump of a config."""
    lines, section = [], ""
    for line in yaml_text.splitlines():
        key = line.strip().split(":", 1)[0]
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            section = key  # a section header such as `data:`
            lines.append(line)
            continue
        dotted = f"{section}.{key}" if line.startswith(" ") else key
        lines.append(f"{line}  # {origin.get(dotted, 'default')}")
    return "\n".join(lines)
