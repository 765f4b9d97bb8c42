"""Every exception hubtools raises on purpose, each message saying where the problem is and what to do, and
how the ``hubtools`` command and the recipes report them (one line, exit status 2)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

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


WHERE_ATTRIBUTE = "_hubtools_where"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped with Ctrl-C
# OSError numbers that say something about the user's paths, not about a bug (ENOSPC has its own message)
PATH_ERRNOS = frozenset({errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS,
                         errno.EDQUOT, errno.ENAMETOOLONG, errno.EEXIST})


@contextlib.contextmanager
def about(where: str) -> Iterator[None]:
    """An exception leaving the block is reported by :func:`user_error` as about ``where`` (``model.name_or_path
    'org/name'``): third-party messages often do not say which argument they mean. The innermost block wins."""
    try:
        yield
    except Exception as err:
        if not hasattr(err, WHERE_ATTRIBUTE):
            setattr(err, WHERE_ATTRIBUTE, where)
        raise


def user_error(err: BaseException, staging: Path | None = None) -> str | None:
    """The one-line message of an error the user can cause (their input, paths, disk, network, model ids), or
    None for any other exception (a bug, reported with its traceback). ``staging`` is the folder a recipe writes
    into, named when the disk is full."""
    message = _known(err, staging)
    if message is None or isinstance(err, HubtoolsError):
        return message
    where = next((getattr(e, WHERE_ATTRIBUTE) for e in _chain(err) if hasattr(e, WHERE_ATTRIBUTE)), None)
    return f"{where}: {message}" if where else message


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and the exceptions it was raised from (or, for an OSError, while handling: how libraries wrap a
    failed download)."""
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or (err.__context__ if isinstance(err, OSError) else None)
    return chain


def _known(err: BaseException, staging: Path | None) -> str | None:
    if isinstance(err, (HubtoolsError, FileNotFoundError)):
        return one_line(err)
    chain = _chain(err)
    network = next(filter(None, map(_network_error, chain)), None)
    hub = next(filter(None, map(_hub_error, chain)), None)
    if hub or network:
        return f"{hub}; {network}" if hub and network else hub or network
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        folder = Path(err.filename).parent if err.filename else staging
        where = f"writing in {folder}" if folder else "writing"
        kept = f"; the staged work in {staging} is kept: free space and rerun the same command" if staging else ""
        return f"no space left on the device ({where}){kept}"
    if isinstance(err, OSError) and err.errno in PATH_ERRNOS and err.filename:
        return f"{err.filename}: {err.strerror}"
    if type(err) is OSError and _raised_in(err, "transformers"):  # how from_pretrained says a model is not there
        return one_line(err)
    return None


def _hub_error(err: BaseException) -> str | None:
    """The Hub's answers about repos and files, and huggingface_hub's offline and repo id errors."""
    from huggingface_hub.constants import HF_HUB_OFFLINE
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        return "not a local folder, and not in the Hub cache" + (" (HF_HUB_OFFLINE is set)" if HF_HUB_OFFLINE else "")
    if isinstance(err, GatedRepoError):
        return "a gated Hub repo: ask for access on its page, then set HF_TOKEN"
    if isinstance(err, RepositoryNotFoundError):
        return "no such Hub repo, or HF_TOKEN gives no access to it"
    if isinstance(err, RevisionNotFoundError):
        return "no such branch, tag or commit in the Hub repo"
    if isinstance(err, HFValidationError):
        return f"not a local folder, and not a valid Hub repo id ({_first_line(err)})"
    if isinstance(err, HfHubHTTPError):
        return f"the Hub refused the request ({_first_line(err)})"
    return None


def _network_error(err: BaseException) -> str | None:
    """A connection that failed or timed out (requests, which huggingface_hub uses)."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    if not isinstance(err, (RequestsConnectionError, Timeout)):
        return None
    request = getattr(err, "request", None)
    url = getattr(request, "url", None) or os.environ.get("HF_ENDPOINT") or "the Hub"
    reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(err))
    what = "timed out" if isinstance(err, Timeout) else reason.group(0) if reason else type(err).__name__
    return f"cannot reach {url} ({what}); check the network, HF_ENDPOINT and the proxy settings"


def _first_line(err: BaseException) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)


def _raised_in(err: BaseException, package: str) -> bool:
    """True when the innermost frame of ``err``'s traceback is in ``package``."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").split(".")[0] == package


def run_reporting_errors(prog: str, main: Callable[[], T], debug: bool = False,
                         staging: Callable[[], Path | None] | None = None) -> T:
    """Run ``main``; an error the user can cause (:func:`user_error`: a :class:`HubtoolsError`, a path, model id
    or dataset that does not resolve, a full disk, the network) prints ``PROG: error: MESSAGE`` as one line on
    stderr and exits with status 2; Ctrl-C prints ``PROG: error: interrupted`` (with where the staged work is
    kept, for a recipe) and exits with status 130. The traceback is printed first only with ``debug``
    (``--debug``) or ``HUBTOOLS_DEBUG=1``; other exceptions (bugs) propagate with their traceback. ``staging``
    gives the folder a recipe is writing into (its ``OUTPUT_DIR.partial``), or None."""
    try:
        return main()
    except KeyboardInterrupt:
        folder = staging() if staging else None
        _report(prog, _interrupted(folder), debug, EXIT_INTERRUPTED)
    except Exception as err:
        folder = staging() if staging else None
        message = user_error(err, folder)
        if message is None:
            raise
        _report(prog, message, debug, EXIT_USER_ERROR)


def _interrupted(staging: Path | None) -> str:
    if staging is None:
        return "interrupted"
    if not staging.is_dir():
        return "interrupted before any work was staged"
    return f"interrupted; the staged work is kept in {staging}: rerun the same command to resume"


def _report(prog: str, message: str, debug: bool, status: int) -> NoReturn:
    if debug_requested(debug):
        traceback.print_exc()
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise SystemExit(status) from None
