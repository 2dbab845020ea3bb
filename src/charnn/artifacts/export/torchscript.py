"""TorchScript export: `model.pt`, which plain PyTorch loads with `torch.jit.load`."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import torch
from torch import nn


def torchscript_bytes(
    portable: nn.Module, example: tuple[torch.Tensor, ...], description: dict[str, Any]
) -> bytes:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch marks TorchScript as deprecated; it still runs
        traced = torch.jit.trace(portable, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={"charnn.json": json.dumps(description)})
    return buffer.getvalue()
