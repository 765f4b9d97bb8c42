"""Bytes to text for every local input: encodings, byte-order marks, line ends, binary files.

Rules, the same for column files, JSON lines, brat ``.txt``/``.ann`` files, split files and labels files:

* The file is decoded strictly with ``data.encoding`` (default ``utf-8``; ``latin-1``, ``cp1252``,
  ``utf-16`` ... are read when named). Undecodable bytes raise :class:`DataError` naming the file, the line
  and the byte offset of the first bad byte, and the encoding that was tried.
* A byte-order mark at the start of the file is not text: it is removed (UTF-8 ``EF BB BF``, and the
  ``U+FEFF`` that a UTF-16/32 decoder leaves). A UTF-16 or UTF-32 mark in a file read as UTF-8 is named in
  the error, with the encoding to set. brat ``.txt`` files keep the mark's place as a space, because brat
  counts it in its character offsets (see :mod:`hubtools.data.brat`).
* A NUL character means a binary file (parquet, gzip, a model file renamed ``train.conll``): refused, with
  its line and byte offset.
* Line ends: ``\\n``, ``\\r\\n`` and a lone ``\\r`` all end a line (:func:`split_lines`); other Unicode line
  separators (``U+2028``, ``U+0085``) are characters inside a line.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from hubtools.errors import DataError

UTF8_BOM = codecs.BOM_UTF8
NEWLINE = b"\n"
_WIDE_BOMS = {codecs.BOM_UTF32_LE: "utf-32", codecs.BOM_UTF32_BE: "utf-32",
              codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "\n".encode(encoding) == b"\n"
    except (LookupError, UnicodeError):
        return False


def _line_of(data: bytes, offset: int, encoding: str) -> str:
    """`` line N`` of a byte offset, when lines can be counted on the bytes (ASCII-compatible encodings)."""
    if not _ascii_compatible(encoding):
        return ""
    return f":{data.count(NEWLINE, 0, offset) + 1}"


def decode(data: bytes, path: str | Path, encoding: str = "utf-8", bom: str = "strip") -> str:
    """Decode a file's bytes by the rules of this module; ``bom="space"`` keeps a mark's place as ``" "``."""
    name = codecs.lookup(encoding).name
    skipped = 0
    if name == "utf-8":
        for mark, wide in _WIDE_BOMS.items():
            if data.startswith(mark):
                raise DataError(f"{path}:1: the file starts with a {wide.upper()} byte-order mark; it is not "
                                f"UTF-8: set data.encoding={wide}")
        if data.startswith(UTF8_BOM):
            skipped = len(UTF8_BOM)
    try:
        text = data[skipped:].decode(name) if skipped else data.decode(name)
    except UnicodeDecodeError as err:
        offset = skipped + err.start
        bad = data[offset:offset + min(4, err.end - err.start)]
        raise DataError(f"{path}{_line_of(data, offset, name)}: byte offset {offset}: cannot decode "
                        f"{bad.hex(' ')} as {name} ({err.reason}); set data.encoding (e.g. latin-1, cp1252) "
                        f"if the file is not {name}") from None
    has_mark = bool(skipped) or text.startswith("\ufeff")
    if text.startswith("\ufeff"):
        text = text[1:]
    if has_mark and bom == "space":
        text = " " + text
    nul = text.find("\0")
    if nul >= 0:
        where = f":{text.count(chr(10), 0, nul) + 1}"
        if _ascii_compatible(name):  # there a 0 byte is the NUL character
            offset = data.find(b"\0")
            where = f"{_line_of(data, offset, name)}: byte offset {offset}"
        raise DataError(f"{path}{where}: NUL character: a binary file, not text (parquet, gzip and the like "
                        f"are not column files)")
    return text


def read_bytes(path: str | Path) -> bytes:
    """A file's bytes; a missing or unreadable path raises DataError."""
    path = Path(path)
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None


def read_text(path: str | Path, encoding: str = "utf-8", bom: str = "strip") -> str:
    """Read and decode a whole text file (see the module rules); an unreadable path raises DataError."""
    return decode(read_bytes(path), path, encoding, bom)


def split_lines(text: str) -> list[str]:
    """Lines of a text, without their ends; ``\\n``, ``\\r\\n`` and ``\\r`` end a line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
