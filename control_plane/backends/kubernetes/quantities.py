"""Kubernetes resource quantities ("500m", "1.5", "2Gi", "512M"): parse, add, print.

Pure and exact (integers only), so that the same inputs always render the same pod
template: a pod template that changed by a rounding error would restart every replica.
"""

from __future__ import annotations

import re
from fractions import Fraction

_CPU_RE = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>m?)$")
_MEM_RE = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_MEM_UNITS = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "E": 1000**6,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
}


def cpu_millis(quantity: str) -> int:
    """'500m' -> 500, '2' -> 2000, '0.25' -> 250. ValueError says what is accepted."""
    match = _CPU_RE.match(quantity.strip())
    if match is None:
        raise ValueError(f"cpu {quantity!r} must be cores ('2', '0.5') or millicores ('500m')")
    value = Fraction(match["num"])
    millis = value if match["unit"] == "m" else value * 1000
    if millis.denominator != 1 or millis <= 0:
        raise ValueError(f"cpu {quantity!r} must be a positive whole number of millicores")
    return int(millis)


def memory_bytes(quantity: str) -> int:
    """'2Gi' -> 2147483648, '512M' -> 512000000. ValueError says what is accepted."""
    match = _MEM_RE.match(quantity.strip())
    if match is None:
        raise ValueError(
            f"memory {quantity!r} must be a number with an optional unit "
            "(Ki, Mi, Gi, Ti or k, M, G, T), e.g. '512Mi' or '2Gi'"
        )
    value = Fraction(match["num"]) * _MEM_UNITS[match["unit"] or ""]
    if value.denominator != 1 or value <= 0:
        raise ValueError(f"memory {quantity!r} must be a positive whole number of bytes")
    return int(value)


def format_cpu(millis: int) -> str:
    """Whole cores when exact ('2'), millicores otherwise ('1500m')."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(n_bytes: int) -> str:
    """The largest binary unit that is exact ('3Gi', '1536Mi'), else plain bytes."""
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = _MEM_UNITS[unit]
        if n_bytes % size == 0:
            return f"{n_bytes // size}{unit}"
    return str(n_bytes)
