"""A JSON-lines file a run appends to (metrics.jsonl, samples.jsonl): one object a line,
flushed as written, so a crash loses at most the line being written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charnn.platform.atomic import atomic_write


class JsonLines:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, allow_nan=False, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def read(self) -> list[dict[str, Any]]:
        """Every whole record; a line torn by a crash mid-write is left out."""
        if not self.path.exists():
            return []
        records = []
        with self.path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
        return records

    def keep_until(self, step: int) -> None:
        """Drop records after `step`, and torn lines: a run resumed from its checkpoint at
        `step` repeats the steps after it, and the file should hold each step once."""
        if not self.path.exists():
            return
        kept = [record for record in self.read() if (record.get("step") or 0) <= step]
        with atomic_write(self.path) as file:
            file.writelines(
                json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n" for record in kept
            )
