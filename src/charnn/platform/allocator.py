"""Keep the C allocator from handing training's big buffers back to the kernel every step.

A training step allocates and frees the same large buffers each time (activations kept for
backward, their gradients, oneDNN's scratch space), several MB each. glibc's malloc serves
blocks above its mmap threshold with fresh `mmap`s and returns them on free, and trims freed
memory at the top of its heap; either way the next step gets pages the kernel must fault in
and zero one by one, every step. `scripts/bench.py` measures a training loop both ways (its
"allocator" table); its other figures run tuned, as training does.

`tune_malloc` raises the mmap threshold to glibc's maximum (32 MiB on 64-bit) and the trim
threshold to 1 GiB: memory a step frees stays in the process for the next step. The process's
peak memory does not grow (each step reaches the same peak either way); freed memory is simply
not returned to the system until the process exits. It changes nothing where the C library is
not glibc, where the user already chose through glibc's own `MALLOC_*_` variables, or where
`CHARNN_MALLOC_TUNING=0` turns it off.

Training calls it once as it starts (from the CLI and the Python API alike); nothing else does,
so importing charnn, sampling or `charnn info` leave the process's allocator as they found it.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20  # the largest glibc accepts on 64-bit
TRIM_THRESHOLD_BYTES = 2**30
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
SWITCH = "CHARNN_MALLOC_TUNING"
"""Set to 0 to leave the allocator alone."""


def tune_malloc() -> bool:
    """Keep freed memory for reuse (see the module's docstring); True when it was set."""
    if os.environ.get(SWITCH, "1").strip() == "0":
        return False
    if not sys.platform.startswith("linux") or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; musl's stub returns 0 and changes nothing.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
