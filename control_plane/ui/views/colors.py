"""One colour per version, the same in every chart and table.

A version's colour follows its sequence number (1 for the first version pushed), so it is
fixed once the version exists and two versions of a model differ unless ten versions apart.
"""

from __future__ import annotations

# Radix step-9 colours: distinct on white and in the Radix light theme the pages use.
PALETTE = (
    "#0090ff",  # blue
    "#f76b15",  # orange
    "#30a46c",  # green
    "#e5484d",  # red
    "#8e4ec6",  # purple
    "#ad7f58",  # brown
    "#d6409f",  # pink
    "#00a2c7",  # cyan
    "#ffc53d",  # amber
    "#12a594",  # teal
)
UNKNOWN = "#8b8d98"  # gray: a label the registry does not know (never expected)


def version_color(seq: int) -> str:
    return PALETTE[(seq - 1) % len(PALETTE)] if seq > 0 else UNKNOWN


def color_map(seqs: dict[str, int]) -> dict[str, str]:
    return {label: version_color(seq) for label, seq in seqs.items()}
