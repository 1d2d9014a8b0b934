"""glibc's malloc, told to keep what a model call frees for the next call rather than hand
it back to the kernel, so the next call does not fault it in again page by page. A worker's
resident memory is then its peak working set (docs/architecture.md)."""

from __future__ import annotations

import ctypes
import os

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's own ceiling for the threshold it adjusts (DEFAULT_MMAP_THRESHOLD_MAX, 64-bit).
MMAP_THRESHOLD = 32 << 20
# Free heap kept. Setting either threshold also stops glibc adjusting them as it goes.
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def keep_freed_memory() -> bool:
    """Set the thresholds for this process; False where the C library is not glibc (musl,
    macOS: nothing to set) or it refused them."""
    try:  # glibc answers with its version; other C libraries do not know the name
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
    except (ValueError, OSError):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
