"""charnn: character-level recurrent language models from the command line and from Python.

from charnn import load_model
model = load_model("runs/x")
print(model.generate("ROMEO:", length=200, temperature=0.8, seed=1))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from charnn.version import __version__

__all__ = ["__version__", "load_model"]

if TYPE_CHECKING:
    from charnn.api import load_model


def __getattr__(name: str) -> Any:
    # Imported on first use, so `charnn --help` and `--version` do not wait for torch.
    if name == "load_model":
        from charnn.api import load_model

        return load_model
    raise AttributeError(f"module 'charnn' has no attribute {name!r}")
