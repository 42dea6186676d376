"""Byte counts as people read them."""

from __future__ import annotations


def human_size(n: float) -> str:
    """`1.7 MB`, `6.2 GB`: decimal units, as the Hub and disk makers count."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
