"""Labelled examples for `task: classify`: reading them, and splitting them by label.

One example is a whole text and its label. `data.path` gives them in one of four layouts:

    names.tsv            label<TAB>text, a line each (the text may hold more tabs)
    reviews.jsonl        {"text": ..., "label": ...}, a line each
    names/English.txt    a directory of <label>.txt files, one example a line
    reviews/pos/1.txt    a directory of <label>/ folders, one example a file

Blank lines are skipped; a bad row is one DataError naming its file and line, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from charnn.config import DataConfig
from charnn.data.sources import read_text_file
from charnn.errors import DataError, key

FORMATS = ("tsv", "jsonl", "label files", "label folders")

LABELLED_DECODING_FIX = (
    f"if it is text in another encoding, set data.encoding (e.g. {key('data.encoding', 'latin-1')}"
    f"); to replace the bad bytes with U+FFFD instead, use {key('data.errors', 'replace')}"
)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    where: str
    """`file:line` (or the file, one example a file): where a message should point."""


def read_examples(
    path: Path,
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    decoding_fix: str = LABELLED_DECODING_FIX,
    what: str = "data.path",
) -> list[Example]:
    """Every example in `path`, in file order (files sorted by name)."""
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path")
    read = _Reader(encoding, errors, decoding_fix)
    if path.is_dir():
        examples = _read_directory(path, read)
    elif path.suffix == ".tsv":
        examples = _read_tsv(path, read)
    elif path.suffix == ".jsonl":
        examples = _read_jsonl(path, read)
    else:
        raise DataError(
            f"{what} {path} is not a labelled file charnn reads for task: classify; give a .tsv "
            "file (label<TAB>text), a .jsonl file (text and label), or a directory of "
            "<label>.txt files or <label>/ folders"
        )
    if not examples:
        raise DataError(f"{what} {path} holds no examples; every line or file was blank")
    return examples


class _Reader:
    def __init__(self, encoding: str, errors: str, decoding_fix: str) -> None:
        self.encoding, self.errors, self.fix = encoding, errors, decoding_fix

    def text(self, path: Path) -> str:
        return read_text_file(
            path,
            what="labelled file",
            encoding=self.encoding,
            errors=self.errors,
            decoding_fix=self.fix,
        )

    def lines(self, path: Path) -> Iterable[tuple[int, str]]:
        """(line number, line) for each line that is not blank, without its line break."""
        for number, line in enumerate(self.text(path).splitlines(), start=1):
            if line.strip():
                yield number, line.rstrip("\r\n")


def _read_tsv(path: Path, read: _Reader) -> list[Example]:
    examples = []
    for number, line in read.lines(path):
        label, tab, text = line.partition("\t")
        if not tab:
            raise DataError(
                f"{path}:{number} has no tab; each line of a .tsv file is label<TAB>text"
            )
        examples.append(_example(text, label, f"{path}:{number}"))
    return examples


def _read_jsonl(path: Path, read: _Reader) -> list[Example]:
    examples = []
    for number, line in read.lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number} is not valid JSON ({error.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DataError(
                f'{path}:{number} has no "text" string; each line of a .jsonl file is an '
                'object with "text" and "label"'
            )
        label = row.get("label")
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise DataError(
                f'{path}:{number} has no "label" (a string or an integer); each line of a '
                '.jsonl file is an object with "text" and "label"'
            )
        examples.append(_example(row["text"], str(label), f"{path}:{number}"))
    return examples


def _read_directory(path: Path, read: _Reader) -> list[Example]:
    entries = sorted(entry for entry in path.iterdir() if not entry.name.startswith("."))
    files = [entry for entry in entries if entry.is_file()]
    folders = [entry for entry in entries if entry.is_dir()]
    if files and folders:
        raise DataError(
            f"data.path {path} mixes files ({files[0].name}) and folders ({folders[0].name}); "
            "use <label>.txt files, one example a line, or <label>/ folders, one example a "
            "file, not both"
        )
    if folders:
        examples = []
        for folder in folders:
            for file in sorted(item for item in folder.rglob("*") if item.is_file()):
                if file.name.startswith("."):
                    continue
                text = read.text(file).strip("\r\n")
                if text.strip():
                    examples.append(_example(text, folder.name, str(file)))
        return examples
    others = [file.name for file in files if file.suffix != ".txt"]
    if others:
        raise DataError(
            f"data.path {path} holds {others[0]}, not a <label>.txt file; a directory of "
            "label files holds only <label>.txt files, one example a line"
        )
    return [
        _example(line, file.stem, f"{file}:{number}")
        for file in files
        for number, line in read.lines(file)
    ]


def _example(text: str, label: str, where: str) -> Example:
    label = label.strip()
    if not label:
        raise DataError(f"{where} has no label; give every example one")
    if "\n" in label or "\r" in label:
        raise DataError(f"{where} has a label with a line break in it; labels are one line")
    if not text.strip():
        raise DataError(f"{where} has an empty text; give every example some text")
    return Example(text=text, label=label, where=where)


# --------------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class LabelledSplits:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    labels: list[str]
    """Sorted; label i is class i."""
    name: str
    sha256: str
    """The identity of the training examples (texts and labels, in order)."""


def prepare_examples(data: DataConfig, *, seed: int) -> LabelledSplits:
    """The run's training, validation and test examples.

    From `data.path` alone, each label's examples are shuffled by `seed` and cut by
    `val_fraction` and `test_fraction` (stratified: every split has every label).
    `val_path` and `test_path` give those splits from files of their own instead.
    """
    if data.path is None:
        raise DataError(
            f"task: classify needs labelled examples; give them as {key('data.path', 'PATH')} "
            "(a .tsv or .jsonl file, or a directory of <label>.txt files)"
        )
    read = {"encoding": data.encoding, "errors": data.errors}
    examples = truncated(read_examples(Path(data.path), **read), data.max_length)
    val_fraction = 0.0 if data.val_path else data.val_fraction
    test_fraction = 0.0 if data.test_path else data.test_fraction
    train, val, test = stratified_split(
        examples, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    if data.val_path:
        val = truncated(
            read_examples(Path(data.val_path), what="data.val_path", **read), data.max_length
        )
    if data.test_path:
        test = truncated(
            read_examples(Path(data.test_path), what="data.test_path", **read), data.max_length
        )
    labels = sorted({example.label for example in train})
    check_labels(
        labels,
        {
            "data.val_path": [example.label for example in val],
            "data.test_path": [example.label for example in test],
        },
        path=data.path,
    )
    return LabelledSplits(
        train=train,
        val=val,
        test=test,
        labels=labels,
        name=data.path,
        sha256=examples_sha256(train),
    )


def check_labels(
    labels: Sequence[str],
    held_out: Mapping[str, Sequence[str]],
    *,
    path: str,
    kind: str = "examples",
) -> None:
    """Refuse training `labels` of one class, and held-out splits (by the name a message gives
    them) with labels training never shows."""
    if len(labels) < 2:
        raise DataError(
            f"data.path {path} has one label only ({labels[0]!r}); a classifier needs two or more"
        )
    for name, split in held_out.items():
        unseen = sorted(set(split) - set(labels))
        if unseen:
            raise DataError(
                f"{name} has labels the training {kind} never show: {', '.join(unseen[:5])}; "
                f"give every label training {kind}, or remove those rows"
            )


def truncated(examples: list[Example], max_length: int | None) -> list[Example]:
    """The examples with each text cut to its first `max_length` characters (None: as is)."""
    if max_length is None:
        return examples
    return [
        Example(example.text[:max_length], example.label, example.where) for example in examples
    ]


def stratified_split(
    examples: Sequence[Example], *, val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[Example], list[Example], list[Example]]:
    """(train, val, test) of `examples`, as `stratified_rows` draws them."""
    rows = stratified_rows(
        [example.label for example in examples],
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )
    train, val, test = ([examples[row] for row in split] for split in rows)
    return train, val, test


def stratified_rows(
    labels: Sequence[str], *, val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """(train, val, test) rows: each label's rows shuffled by `seed`; a split with a fraction
    above 0 takes round(fraction x count) of them, at least one, and training keeps at least one.
    """
    by_label: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        by_label.setdefault(label, []).append(row)
    rng = random.Random(seed)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        n_val = max(1, round(val_fraction * len(group))) if val_fraction > 0 else 0
        n_test = max(1, round(test_fraction * len(group))) if test_fraction > 0 else 0
        if n_val + n_test >= len(group):
            splits = " and ".join(
                name
                for name, fraction in (
                    ("validation", val_fraction),
                    ("test", test_fraction),
                )
                if fraction > 0
            )
            raise DataError(
                f"label {label!r} has {len(group)} example(s), too few to give the {splits} "
                "split one each and keep one for training; add examples of it, remove it, or "
                "give the held-out examples as data.val_path (and data.test_path)"
            )
        val.extend(group[:n_val])
        test.extend(group[n_val : n_val + n_test])
        train.extend(group[n_val + n_test :])
    return train, val, test


def examples_sha256(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps([example.label, example.text]).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def read_prediction_lines(source: str, stdin: TextIO) -> list[str]:
    """The texts to classify in `source`: one a line (`-`: `stdin`), blank lines skipped. The
    rows of a labelled .tsv or .jsonl file give their text; their labels are not used."""
    if source == "-":
        return [line.rstrip("\r\n") for line in stdin if line.strip()]
    path = Path(source)
    if path.suffix in (".tsv", ".jsonl") and path.is_file():
        return [example.text for example in read_examples(path, what="labelled file")]
    read = _Reader("utf-8", "strict", LABELLED_DECODING_FIX)
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a file with one text a line")
    return [line for _, line in read.lines(path)]
