"""The precision policy: bf16 autocast where it applies, and the recurrent core kept out of
float16.

`train.precision: bf16` runs training under bf16 autocast on CUDA and on a CPU; elsewhere (MPS)
the run trains in fp32, with a warning. On CUDA, autocast may hand cuDNN's RNNs float16
although bfloat16 was asked for; `keep_recurrence_out_of_float16` checks once per run and runs
the core in fp32 instead, the output layer still in bf16.
"""

from __future__ import annotations

import contextlib
import logging

import torch

from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.platform.compat import cpu_has_native_bf16

logger = logging.getLogger(__name__)

AUTOCAST_DEVICES = ("cuda", "cpu")
"""Where `train.precision=bf16` applies; elsewhere (MPS) a run trains in fp32."""


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA or a CPU when asked for; a no-op otherwise."""
    if precision == "bf16" and device.type in AUTOCAST_DEVICES:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def warn_unused_precision(device: torch.device, precision: str) -> None:
    """Warn when `precision` will not do what it promises on `device`."""
    if precision != "bf16":
        return
    if device.type not in AUTOCAST_DEVICES:
        logger.warning(
            "train.precision=bf16 applies on CUDA and CPU only; training in fp32 on %s", device
        )
    elif device.type == "cpu" and cpu_has_native_bf16() is False:
        logger.warning(
            "train.precision=bf16: this CPU has no native bf16 arithmetic (AVX512-BF16 or AMX), "
            "so bf16 is emulated and likely slower than fp32; set train.precision=fp32"
        )


def recurrent_dtype(
    model: CharRNN | CharClassifier, autocast: contextlib.AbstractContextManager[object]
) -> torch.dtype:
    """The dtype of the model's recurrent core's output under `autocast` (for cuDNN's RNNs,
    the dtype they compute in), found by running it on two zero characters (in eval mode, so
    that no dropout draws random numbers).

    Asked for bfloat16, CUDA autocast may give cuDNN's RNNs float16 instead: its wrapper for
    them (`_cudnn_rnn_cast_reflatten` in PyTorch's AutocastRNN.cpp) casts the weights, input
    and state to float16 whatever dtype the autocast region names, in the revisions read for
    this project. float16 has bfloat16's precision but not its range, and without loss scaling
    small gradients underflow, so the trainer asks once per run rather than trusting either.
    """
    probe = torch.zeros(1, 2, model.config.embedding_dim, device=model.head.weight.device)
    core = model.rnn if isinstance(model, CharRNN) else model.first_core
    was_training = core.training
    core.eval()
    try:
        with torch.no_grad(), autocast:
            output, _ = core(probe)  # (1, 2, H)
    finally:
        core.train(was_training)
    return output.dtype


def keep_recurrence_out_of_float16(
    model: CharRNN | CharClassifier, autocast_context: contextlib.AbstractContextManager[object]
) -> torch.dtype:
    """Make sure `autocast_context` (bfloat16) does not run the recurrent core in float16; the
    dtype the core's output has from now on.

    When it would (see `recurrent_dtype`), the core runs in fp32 instead: float16 without loss
    scaling would let small gradients underflow, and fp32 RNNs on cuDNN still use the tensor
    cores (as TF32). The output layer keeps the lower precision either way.
    """
    dtype = recurrent_dtype(model, autocast_context)
    if dtype == torch.float16:
        model.recurrent_autocast = False
        logger.info(
            "bf16 autocast would run the %s layers in float16 (PyTorch's autocast wrapper for "
            "cuDNN RNNs casts to float16); running them in fp32, the output layer in bf16",
            model.cell.title,
        )
        return torch.float32
    logger.info(
        "bf16 autocast: the recurrent layers' output is %s", str(dtype).removeprefix("torch.")
    )
    return dtype
