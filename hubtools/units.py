"""Sizes, counted once: results.json records bytes and parameter counts; readers see MB (10^6 bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MB = 10**6
KIB = 2**10  # Linux counts a process's memory (/proc/*/status, getrusage) in kB of 1024 bytes


def file_bytes(*paths: Path) -> int:
    """Total size of files in bytes."""
    return sum(p.stat().st_size for p in paths)


def parameter_count(model: Any) -> int:
    """Parameters of a PyTorch module."""
    return int(sum(p.numel() for p in model.parameters()))


def parameter_bytes(model: Any) -> int:
    """Bytes the parameters of a PyTorch module hold."""
    return int(sum(p.numel() * p.element_size() for p in model.parameters()))


def megabytes(n_bytes: float, digits: int = 1) -> str:
    """``n_bytes`` in MB with ``digits`` decimals, without the unit (``43.4``: a card's ``Size (MB)`` cell)."""
    return f"{n_bytes / MB:.{digits}f}"


def human_size(n_bytes: float) -> str:
    """``n_bytes`` in B, kB, MB or GB (powers of 1000): ``512 B``, ``43.4 MB``."""
    if n_bytes < 1000:
        return f"{n_bytes:.0f} B"
    for unit in ("kB", "MB"):
        n_bytes /= 1000
        if n_bytes < 1000:
            return f"{n_bytes:.1f} {unit}"
    return f"{n_bytes / 1000:.1f} GB"
