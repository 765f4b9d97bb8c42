"""Machine paths: kept out of everything a run writes for others, and found where they slipped in.

A path on the machine that trained a run (``/home/ana/data/conll``, ``/tmp/pytest-7/run``) means nothing to a
reader of the published card or results.json, and says something about the machine. :func:`portable` turns a
local path into one that is not: relative to the working directory when it lies inside it, else ``PATH/NAME``
(its last component, under a placeholder the reader replaces). :func:`machine_paths` finds the absolute and
home-relative paths in a text; ``hubtools check`` and ``hubtools push`` refuse what would publish one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PLACEHOLDER = "PATH"
# An absolute POSIX path of two components or more (not the path part of a URL), a home path, a drive path.
_ABSOLUTE = re.compile(r"(?<![\w.:/~%$-])(/(?!/)[\w.@+-]+(?:/[\w.@+-]+)+/?)")
_HOME = re.compile(r"(?<![\w/])(~/[\w.@+-]+(?:/[\w.@+-]*)*)")
_DRIVE = re.compile(r"(?<![\w])([A-Za-z]:\\{1,2}[^\s\"'`|)]+)")


def looks_like_path(value: str) -> bool:
    """Absolute, home-relative or an existing relative path (``data/train.conll``), not a Hub id or URL."""
    if "://" in value or not value:
        return False
    if value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", value):
        return True
    return value.startswith(".") or (("/" in value or "\\" in value) and Path(value).exists())


def portable(value: str, base: str | Path | None = None) -> str:
    """``value`` with a machine path replaced: relative to ``base`` (default: the working directory) when it
    lies inside it, else ``PATH/NAME``; anything that is not a local path comes back unchanged."""
    if not isinstance(value, str) or not looks_like_path(value):
        return value
    path = Path(os.path.expanduser(value))
    base = Path(base or os.getcwd()).resolve()
    resolved = path.resolve() if path.is_absolute() or path.exists() else path
    try:
        relative = resolved.relative_to(base)
        return relative.as_posix() or "."
    except ValueError:
        return f"{PLACEHOLDER}/{resolved.name}" if resolved.name else PLACEHOLDER


def portable_command(argv: list[str], base: str | Path | None = None) -> list[str]:
    """A command line with every path made portable, ``section.key=PATH`` values included."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and not arg.startswith("-") and "." in key and looks_like_path(value):
            out.append(f"{key}={portable(value, base)}")
        elif sep and arg.startswith("--") and looks_like_path(value):
            out.append(f"{key}={portable(value, base)}")
        else:
            out.append(portable(arg, base))
    return out


def machine_paths(text: str) -> list[str]:
    """The machine paths in ``text`` (absolute, home-relative, drive paths, and this machine's home and working
    directory wherever they appear), in order, each once."""
    found = [m.group(1) for pattern in (_ABSOLUTE, _HOME, _DRIVE) for m in pattern.finditer(text)]
    for own in {os.path.expanduser("~"), os.getcwd()}:
        if len(own) > 1 and re.search(re.escape(own) + r"(?![\w.-])", text):
            found.append(own)
    return list(dict.fromkeys(found))
