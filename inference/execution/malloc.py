"""How a worker's model calls get their memory: glibc's malloc, told to keep what a call
frees for the next call rather than hand it back to the kernel.

By default glibc returns the free top of a heap to the kernel once it exceeds a threshold
that it raises as it goes (twice the largest block it has had to map on its own). A model
call of tens of images allocates and frees megabytes of activations, and with that
default a call often lands just past the threshold: the memory goes back after every
call and the next call faults it in again, page by page. Measured on a 2-core EPYC VM
(bench/results/profile.md, fourteenth session): the W2 CNN at 32 images a call took 1,250
to 1,500 page faults a call and ran 10,000-11,000 images/s instead of 38,000-39,000, in 3
of 4 fresh processes; which call sizes suffer changes from process to process.

Fixed thresholds (which also turn glibc's adjustment off) stop it: blocks up to 32 MB come
from the heap, and up to 64 MB of free heap stays with the process. A worker's resident
memory is then its peak working set, not its current one.
"""

from __future__ import annotations

import ctypes
import os

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's own ceiling for the threshold it adjusts (DEFAULT_MMAP_THRESHOLD_MAX, 64-bit).
MMAP_THRESHOLD = 32 << 20
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
