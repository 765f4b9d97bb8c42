"""Every exception hubtools raises on purpose, each message saying where the problem is and what to do, and
how the ``hubtools`` command and the recipes report them (one line, exit status 2)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

EXIT_USER_ERROR = 2  # bad input, configuration or arguments: the status argparse uses for a bad command line
DEBUG_ENV = "HUBTOOLS_DEBUG"


class HubtoolsError(Exception):
    """Base of the errors the ``hubtools`` command and the recipes report in one line (exit status 2)."""


class DataError(HubtoolsError, ValueError):
    """Invalid input data; the message names the file and line, or the split, row and field."""


class ConfigError(HubtoolsError, ValueError):
    """Invalid recipe configuration; the message names the section and key."""


class ResultsError(HubtoolsError, ValueError):
    """A results.json that cannot be read as typed run results; the message names the key path."""


class ExportError(HubtoolsError, RuntimeError):
    """Export or verification failed; the message says which model and step."""


class CardError(HubtoolsError, ValueError):
    """A card cannot be rendered; the message names the template and the missing value."""


class UsageError(HubtoolsError, ValueError):
    """A command-line argument that cannot be used as given (a model that is not a token classifier, a label
    map naming a type that does not exist, a split the data lack...); the message names the argument."""


class PushError(HubtoolsError, RuntimeError):
    """A push that cannot go on; the one-line message says what to do. It never contains a token."""


def debug_requested(flag: bool = False) -> bool:
    """True with ``--debug`` or ``HUBTOOLS_DEBUG`` set to anything but empty, 0, false or no."""
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def one_line(err: BaseException) -> str:
    """The error's message on one line (whitespace runs, newlines included, become one space)."""
    return " ".join(str(err).split()) or type(err).__name__


def run_reporting_errors(prog: str, main: Callable[[], T], debug: bool = False) -> T:
    """Run ``main``; a :class:`HubtoolsError` or FileNotFoundError (a user's input, configuration or path is
    wrong) prints ``PROG: error: MESSAGE`` as one line on stderr and exits with status 2. The traceback is
    printed first only with ``debug`` (``--debug``) or ``HUBTOOLS_DEBUG=1``; other exceptions (bugs)
    propagate with their traceback."""
    try:
        return main()
    except (HubtoolsError, FileNotFoundError) as err:
        if debug_requested(debug):
            traceback.print_exc()
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USER_ERROR) from None
