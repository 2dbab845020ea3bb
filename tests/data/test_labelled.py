from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from charnn.config import DataConfig
from charnn.data.labelled import (
    Example,
    prepare_examples,
    read_examples,
    read_prediction_lines,
    stratified_split,
)
from charnn.errors import DataError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tsv_file_keeps_further_tabs_in_the_text_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tsv", "pos\tgood\tfilm\n\n  \nneg\tbad\n")
    examples = read_examples(path)
    assert [(e.label, e.text) for e in examples] == [("pos", "good\tfilm"), ("neg", "bad")]
    assert examples[1].where == f"{path}:4"


def test_a_jsonl_file_takes_text_and_label(tmp_path: Path) -> None:
    rows = [{"text": "hello", "label": "en"}, {"text": "hallo", "label": 3}]
    path = write(tmp_path / "x.jsonl", "\n".join(json.dumps(row) for row in rows) + "\n")
    assert [(e.label, e.text) for e in read_examples(path)] == [("en", "hello"), ("3", "hallo")]


def test_the_names_tutorial_layout_reads_one_example_a_line(tmp_path: Path) -> None:
    write(tmp_path / "names" / "Czech.txt", "Abl\nAdsit\n")
    write(tmp_path / "names" / "Japanese.txt", "Abe\r\nAbukara\r\n")
    examples = read_examples(tmp_path / "names")
    assert [(e.label, e.text) for e in examples] == [
        ("Czech", "Abl"),
        ("Czech", "Adsit"),
        ("Japanese", "Abe"),
        ("Japanese", "Abukara"),
    ]


def test_label_folders_read_one_example_a_file(tmp_path: Path) -> None:
    write(tmp_path / "reviews" / "pos" / "1.txt", "a fine film\nreally\n")
    write(tmp_path / "reviews" / "neg" / "2.txt", "dull")
    examples = read_examples(tmp_path / "reviews")
    assert [(e.label, e.text) for e in examples] == [
        ("neg", "dull"),
        ("pos", "a fine film\nreally"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.tsv", "pos\tok\nno tab here\n", r"x\.tsv:2 has no tab"),
        ("x.tsv", "pos\tok\n\tno label\n", r"x\.tsv:2 has no label"),
        ("x.tsv", "pos\t   \n", r"x\.tsv:1 has an empty text"),
        ("x.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', r'x\.jsonl:2 has no "label"'),
        ("x.jsonl", "{not json\n", r"x\.jsonl:1 is not valid JSON"),
        ("x.jsonl", '{"text": "a", "label": "x\\ny"}\n', r"x\.jsonl:1 has a label with a line"),
        ("x.csv", "a,b\n", r"not a labelled file .* \.tsv"),
        ("x.tsv", "\n\n", r"holds no examples"),
    ],
)
def test_bad_rows_are_one_error_with_file_and_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        read_examples(write(tmp_path / name, content))


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_bytes(b"a\tfine\nb\tbad \xff byte\n")
    with pytest.raises(
        DataError, match=r"not valid utf-8 \(byte 0xff at offset 13, line 2; .*data\.encoding"
    ):
        read_examples(path)
    assert read_examples(path, errors="replace")[1].text == "bad \ufffd byte"


def test_a_directory_mixing_files_and_folders_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.txt", "x\n")
    write(tmp_path / "d" / "b" / "1.txt", "y")
    with pytest.raises(DataError, match=r"mixes files .* and folders"):
        read_examples(tmp_path / "d")


def examples(counts: dict[str, int]) -> list[Example]:
    return [
        Example(f"{label}{i}", label, f"f:{i}")
        for label, count in counts.items()
        for i in range(count)
    ]


def test_the_split_is_stratified_and_fixed_by_the_seed() -> None:
    data = examples({"a": 50, "b": 20, "c": 10})
    train, val, test = stratified_split(data, val_fraction=0.1, test_fraction=0.2, seed=1)
    count = lambda split, label: sum(e.label == label for e in split)  # noqa: E731
    assert [count(val, label) for label in "abc"] == [5, 2, 1]
    assert [count(test, label) for label in "abc"] == [10, 4, 2]
    assert len(train) + len(val) + len(test) == 80
    assert {e.text for e in train} | {e.text for e in val} | {e.text for e in test} == {
        e.text for e in data
    }
    again = stratified_split(data, val_fraction=0.1, test_fraction=0.2, seed=1)
    other = stratified_split(data, val_fraction=0.1, test_fraction=0.2, seed=2)
    assert again == (train, val, test) and other[1] != val


def test_a_label_too_small_for_the_split_is_named_with_the_fix() -> None:
    with pytest.raises(DataError, match=r"label 'rare' has 1 example\(s\).*data\.val_path"):
        stratified_split(
            examples({"common": 30, "rare": 1}), val_fraction=0.1, test_fraction=0, seed=0
        )


def test_one_label_is_not_a_classification(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tsv", "".join(f"only\ttext {i}\n" for i in range(10)))
    with pytest.raises(DataError, match=r"one label only .*'only'"):
        prepare_examples(DataConfig(path=str(path)), seed=0)


def test_val_path_replaces_the_fraction_and_its_labels_must_be_known(tmp_path: Path) -> None:
    train = write(
        tmp_path / "train.tsv", "".join(f"{lab}\t{lab}{i}\n" for lab in "ab" for i in range(5))
    )
    val = write(tmp_path / "val.tsv", "a\tval a\nb\tval b\n")
    splits = prepare_examples(DataConfig(path=str(train), val_path=str(val)), seed=0)
    assert len(splits.train) == 10 and [e.text for e in splits.val] == ["val a", "val b"]
    assert splits.labels == ["a", "b"]
    write(val, "a\tval a\nz\tnew\n")
    with pytest.raises(
        DataError, match=r"data\.val_path has labels the training examples never show: z"
    ):
        prepare_examples(DataConfig(path=str(train), val_path=str(val)), seed=0)


def test_max_length_keeps_the_start_of_each_example(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.tsv", "".join(f"{lab}\t{lab * 20}\n" for lab in "ab" for _ in range(5))
    )
    splits = prepare_examples(DataConfig(path=str(path), max_length=3), seed=0)
    assert {len(e.text) for e in splits.train + splits.val} == {3}


def test_prediction_lines_from_a_file_stdin_or_a_labelled_file(tmp_path: Path) -> None:
    assert read_prediction_lines("-", io.StringIO("one\n\ntwo\n")) == ["one", "two"]
    plain = write(tmp_path / "names.txt", "Abe\n\nDvorak\n")
    assert read_prediction_lines(str(plain), io.StringIO()) == ["Abe", "Dvorak"]
    labelled = write(tmp_path / "x.tsv", "Japanese\tAbe\nNobody\tDvorak\n")
    assert read_prediction_lines(str(labelled), io.StringIO()) == ["Abe", "Dvorak"]
