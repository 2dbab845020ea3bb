"""The export formats and the files each writes: torch-free, so that the command line can offer
them (help, completion) without importing torch."""

from __future__ import annotations

from pathlib import Path

from charnn.errors import CharnnError

FILE_NAMES = {"torchscript": "model.pt", "onnx": "model.onnx"}
"""Each format and the file `charnn export` writes for it by default."""


def default_file_name(format: str) -> str:
    """The model file name for `format`, or one clear error for a format charnn cannot write."""
    if format not in FILE_NAMES:
        raise CharnnError(f"unknown export format {format!r}; use one of {', '.join(FILE_NAMES)}")
    return FILE_NAMES[format]


def metadata_path(model_file: Path) -> Path:
    """The JSON written beside a model file: its own, named after the whole file name
    (model.pt.json, model.onnx.json), so that exports in two formats keep one each."""
    return model_file.with_name(model_file.name + ".json")
