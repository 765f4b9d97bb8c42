"""Publish a run folder: one Hub commit per repo, holding only what changed, checked before the first upload.

The model repo gets ``RUN/model/*`` at its root, ``RUN/onnx/`` as ``onnx/``, ``RUN/plots/`` as ``plots/`` and
``RUN/results.json``; the dataset repo gets ``RUN/dataset/*`` at its root. ``checkpoints/`` is never pushed.
Both cards are rendered again for the repos they go to (every snippet loads from the repo ids, the model card
links the pushed dataset repo), and everything is checked before anything is uploaded
(:func:`publish_problems`): the Hub's metadata rules (:mod:`hubtools.cards.rules`) and no machine path in any
text file (:mod:`hubtools.paths`).
A SpanMarker ``config.json`` that names its own folder as the encoder's place is uploaded naming the repo
instead (:mod:`hubtools.spanmarker.reference`), so ``SpanMarkerModel.from_pretrained(repo_id)`` works from the Hub.
Local files are compared with the remote tree (git blob sha1 for regular files, sha256 for LFS files), so an
unchanged run makes no commit, and remote files under the managed paths that no longer exist locally are
deleted in the same commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal, TypeVar

import requests
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import get_token

from hubtools.cards import card_texts
from hubtools.cards.rules import readme_problems
from hubtools.errors import PushError
from hubtools.paths import machine_paths
from hubtools.results import RunResults
from hubtools.run import read_results
from hubtools.space import space_files
from hubtools.spanmarker.reference import config_for_repo

logger = logging.getLogger(__name__)

RETRY_ATTEMPTS = 4
RETRY_BASE_S = 1.0
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
MODEL_FOLDERS = {"onnx": "onnx", "plots": "plots"}
LOGIN_HINT = "set HF_TOKEN or run `huggingface-cli login`"
TEXT_SUFFIXES = (".md", ".json", ".txt", ".py", ".yaml", ".yml", ".csv", ".jinja")
Status = Literal["new", "changed", "unchanged", "deleted"]
T = TypeVar("T")


@dataclass(frozen=True)
class FilePlan:
    """One file of a push: its path in the repo, size in bytes (remote size when deleted) and status."""

    path: str
    size: int
    status: Status


@dataclass
class RepoReport:
    """What a push did (or, in a dry run, would do) to one repo; ``commit`` is None when nothing changed."""

    repo_id: str
    repo_type: str
    url: str
    revision: str
    files: list[FilePlan] = field(default_factory=list)
    commit: str | None = None
    created: bool = False

    def with_status(self, status: Status) -> list[FilePlan]:
        return [f for f in self.files if f.status == status]

    @property
    def added(self) -> list[FilePlan]:
        return self.with_status("new")

    @property
    def changed(self) -> list[FilePlan]:
        return self.with_status("changed")

    @property
    def unchanged(self) -> list[FilePlan]:
        return self.with_status("unchanged")

    @property
    def deleted(self) -> list[FilePlan]:
        return self.with_status("deleted")


@dataclass
class PushReport:
    """The result of :func:`push_run`: one :class:`RepoReport` per repo, model first."""

    repos: list[RepoReport]
    dry_run: bool = False


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: read from ``path``, or ``data`` when given (content rewritten for the repo)."""

    path: Path
    size: int
    sha256: str
    git_sha1: str
    data: bytes | None = None


def plan_files(run_dir: str | Path, repo_id: str, dataset_repo_id: str | None = None,
               results: RunResults | None = None, space_repo_id: str | None = None,
               endpoint: str | None = None) -> list[tuple[str, str, dict[str, LocalFile]]]:
    """``(repo_id, repo_type, {repo path: file})`` of each repo a push publishes to: the model repo, with
    ``dataset_repo_id`` the dataset repo, with ``space_repo_id`` the demo Space (:mod:`hubtools.space`, loading
    the model from the Hub at ``endpoint``); the cards rendered for those repos."""
    run_dir = Path(run_dir)
    results = results or read_results(run_dir)
    model_card, dataset_card = card_texts(run_dir, results, model_repo_id=repo_id, dataset_repo_id=dataset_repo_id,
                                          space_repo_id=space_repo_id)
    targets = [(repo_id, "model", {**model_files(run_dir, repo_id),
                                   "README.md": _hash_data(run_dir / "model" / "README.md", model_card.encode())})]
    if dataset_repo_id is not None:
        files = {**dataset_files(run_dir),
                 "README.md": _hash_data(run_dir / "dataset" / "README.md", dataset_card.encode())}
        targets.append((dataset_repo_id, "dataset", files))
    if space_repo_id is not None:
        pages = space_files(run_dir, results, repo_id, dataset_repo_id, endpoint=endpoint)
        targets.append((space_repo_id, "space", {path: _hash_data(run_dir / "space" / path, data)
                                                 for path, data in pages.items()}))
    return targets


def publish_problems(repo_id: str, repo_type: str, files: dict[str, LocalFile]) -> list[str]:
    """What must not be published: card metadata the Hub refuses, machine paths in text files."""
    problems = []
    for path, local in sorted(files.items()):
        if PurePosixPath(path).suffix not in TEXT_SUFFIXES:
            continue
        text = (local.data if local.data is not None else local.path.read_bytes()).decode("utf-8", "replace")
        if path == "README.md":
            problems += [f"{repo_id} README.md: {p}" for p in readme_problems(text, repo_type)]
        problems += [f"{repo_id} {path}: machine path {found!r}" for found in machine_paths(text)]
    return problems


def push_run(
    run_dir: str | Path,
    repo_id: str | None = None,
    *,
    dataset_repo_id: str | None = None,
    space_repo_id: str | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
) -> PushReport:
    """Push the model (and, with ``dataset_repo_id``, the dataset; with ``space_repo_id``, the demo Space) of a
    run folder to the Hub.

    Repo ids default to the run's ``publish.model_repo_id`` / ``publish.dataset_repo_id``. Checks what would be
    published first (:func:`publish_problems`), then creates missing repos (``private``) and a missing
    ``revision`` branch, and makes at most one commit per repo. ``dry_run`` only reads from the Hub. Raises
    :class:`PushError` with a one-line message.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir():
        raise PushError(f"{run_dir}: no model/ folder; pass a finished run folder (see docs/architecture.md)")
    results = read_results(run_dir)
    if not (repo_id or results.publish.model_repo_id):
        raise PushError("no model repo to push to: pass --repo-id NAMESPACE/NAME or set publish.model_repo_id")
    repo_id = _check_repo_id(repo_id or results.publish.model_repo_id, "--repo-id")
    dataset_repo_id = dataset_repo_id or results.publish.dataset_repo_id
    if dataset_repo_id is not None:
        _check_repo_id(dataset_repo_id, "--dataset-repo-id")
    if space_repo_id is not None:
        _check_repo_id(space_repo_id, "--space")
    api = HfApi(endpoint=endpoint, token=token)
    targets = plan_files(run_dir, repo_id, dataset_repo_id, results, space_repo_id, api.endpoint)
    problems = [p for rid, rtype, files in targets for p in publish_problems(rid, rtype, files)]
    if problems:
        raise PushError(f"nothing pushed: {len(problems)} problem(s) in what would be published: "
                        + "; ".join(problems) + " (see `hubtools check`)")
    secret = token or get_token()
    if not dry_run and not secret:
        raise PushError(f"no Hub token found: {LOGIN_HINT} (a token with write access)")
    message = commit_message or f"Upload run {run_dir.resolve().name} with hubtools"
    try:
        if not dry_run:
            _check_write_token(api)
        options = {"private": private, "revision": revision, "message": message, "dry_run": dry_run}
        repos = [_push_repo(api, rid, rtype, files, **options) for rid, rtype, files in targets]
    except PushError as err:
        raise PushError(_scrub(str(err), secret)) from None
    except (HfHubHTTPError, requests.RequestException, RuntimeError) as exc:
        err = _hub_error(exc)
        if err is None:
            raise
        raise PushError(_scrub(_explain(err, api.endpoint), secret)) from None
    return PushReport(repos=repos, dry_run=dry_run)


def _check_write_token(api: HfApi) -> None:
    """Fail early, before any upload, on an invalid token or one that can only read."""
    role = _retry(api.whoami, "whoami").get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise PushError(f"this token can only read: use a token with write access ({LOGIN_HINT})")


def model_files(run_dir: Path, repo_id: str) -> dict[str, LocalFile]:
    """Repo path -> local file for the model repo ``repo_id`` of a run folder (the card as it lies there)."""
    if not (run_dir / "model").is_dir():
        raise PushError(f"{run_dir}: no model/ folder; pass a finished run folder (see docs/architecture.md)")
    files = _tree(run_dir / "model", "")
    for folder, prefix in MODEL_FOLDERS.items():
        if (run_dir / folder).is_dir():
            files.update(_tree(run_dir / folder, prefix + "/"))
    if (run_dir / "results.json").is_file():
        files["results.json"] = _hash(run_dir / "results.json")
    for name in ("config.json", "onnx/config.json"):  # a SpanMarker model refers to itself: name the repo
        config = run_dir / ("model/" + name if name == "config.json" else name)
        text = config_for_repo(config.read_text(encoding="utf-8"), repo_id) if config.is_file() else None
        if text is not None:
            files[name] = _hash_data(config, text.encode("utf-8"))
    return files


def dataset_files(run_dir: Path) -> dict[str, LocalFile]:
    """Repo path -> local file for the dataset repo of a run folder."""
    if not (run_dir / "dataset").is_dir():
        raise PushError(f"{run_dir}: no dataset/ folder to push; drop --dataset-repo-id or rerun the recipe")
    return _tree(run_dir / "dataset", "")


def _tree(folder: Path, prefix: str) -> dict[str, LocalFile]:
    return {
        prefix + p.relative_to(folder).as_posix(): _hash(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "checkpoints" not in p.relative_to(folder).parts
    }


def _hash(path: Path) -> LocalFile:
    sha256, size = hashlib.sha256(), path.stat().st_size
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha256.update(chunk)
            sha1.update(chunk)
    return LocalFile(path, size, sha256.hexdigest(), sha1.hexdigest())


def _hash_data(path: Path, data: bytes) -> LocalFile:
    sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data)
    return LocalFile(path, len(data), hashlib.sha256(data).hexdigest(), sha1.hexdigest(), data)


def _check_repo_id(repo_id: str, option: str) -> str:
    if not REPO_ID.match(repo_id or ""):
        raise PushError(f"{option} {repo_id!r} is not a repo id: use NAMESPACE/NAME (your user or org name)")
    return repo_id


def _managed(path: str, local: dict[str, LocalFile], repo_type: str) -> bool:
    """Remote paths this push owns: root files (but .gitattributes) and the folders the run provides."""
    if path == ".gitattributes":
        return False
    top = path.split("/")[0] if "/" in path else None
    folders = {p.split("/")[0] for p in local if "/" in p}
    if repo_type == "model":
        folders |= set(MODEL_FOLDERS.values())
    return top is None or top in folders


def plan(local: dict[str, LocalFile], remote: dict[str, RepoFile], repo_type: str) -> list[FilePlan]:
    """Compare local files with a remote tree: new/changed/unchanged, and managed remote files to delete."""
    files = []
    for path, lf in sorted(local.items()):
        rf = remote.get(path)
        if rf is None:
            status: Status = "new"
        elif rf.lfs is not None:
            status = "unchanged" if rf.lfs.sha256 == lf.sha256 else "changed"
        else:
            status = "unchanged" if rf.blob_id == lf.git_sha1 else "changed"
        files.append(FilePlan(path, lf.size, status))
    for path, rf in sorted(remote.items()):
        if path not in local and _managed(path, local, repo_type):
            files.append(FilePlan(path, rf.size, "deleted"))
    return files


def _push_repo(
    api: HfApi,
    repo_id: str,
    repo_type: str,
    local: dict[str, LocalFile],
    *,
    private: bool,
    revision: str | None,
    message: str,
    dry_run: bool,
) -> RepoReport:
    branch = revision or "main"
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    url = f"{api.endpoint}/{prefix}{repo_id}" + (f"/tree/{branch}" if revision else "")
    report = RepoReport(repo_id, repo_type, url, branch)
    head, remote = _retry(lambda: _remote_state(api, repo_id, repo_type, branch), f"read {repo_id}")
    report.created = head is None
    report.files = plan(local, remote, repo_type)
    if dry_run:
        return report
    kind = {"repo_type": repo_type, "exist_ok": True}
    if head is None:
        sdk = {"space_sdk": "static"} if repo_type == "space" else {}  # the Hub creates no Space without its SDK
        _retry(lambda: api.create_repo(repo_id, private=private, **kind, **sdk), "create repo")
    if revision and not _retry(lambda: _has_branch(api, repo_id, repo_type, branch), "list branches"):
        _retry(lambda: api.create_branch(repo_id, branch=branch, **kind), "create branch")
    report.commit = _commit(api, repo_id, repo_type, branch, local, message)
    return report


def _remote_state(api: HfApi, repo_id: str, repo_type: str, branch: str) -> tuple[str | None, dict]:
    """(head commit of `branch` (of main when the branch is new) or None without a repo, path -> RepoFile)."""
    try:
        info = api.repo_info(repo_id, repo_type=repo_type, revision=branch)
    except RevisionNotFoundError:
        info = api.repo_info(repo_id, repo_type=repo_type)
    except RepositoryNotFoundError as err:
        if err.response is not None and err.response.status_code == 401:
            raise
        return None, {}
    tree = api.list_repo_tree(repo_id, repo_type=repo_type, revision=info.sha, recursive=True)
    return info.sha, {f.path: f for f in tree if isinstance(f, RepoFile)}


def _has_branch(api: HfApi, repo_id: str, repo_type: str, branch: str) -> bool:
    return any(b.name == branch for b in api.list_repo_refs(repo_id, repo_type=repo_type).branches)


def _commit(api: HfApi, repo_id: str, repo_type: str, branch: str, local: dict[str, LocalFile], message: str):
    """Make the commit; after a failure re-plan against the new remote state (the commit may have landed)."""
    first_head = None
    for attempt in range(RETRY_ATTEMPTS):
        head, remote = _retry(lambda: _remote_state(api, repo_id, repo_type, branch), f"read {repo_id}")
        first_head = first_head or head
        files = plan(local, remote, repo_type)
        ops: list = [
            CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=_content(local[f.path]))
            for f in files
            if f.status in ("new", "changed")
        ]
        ops += [CommitOperationDelete(path_in_repo=f.path) for f in files if f.status == "deleted"]
        if not ops:
            return head if attempt and head != first_head else None
        try:
            info = api.create_commit(
                repo_id,
                ops,
                commit_message=message,
                repo_type=repo_type,
                revision=branch,
                parent_commit=head,
            )
            return info.oid
        except ValueError as exc:  # the Hub's validate-yaml refused a card: its message lists the problems
            if "Invalid metadata in README.md" not in str(exc):
                raise
            raise PushError(f"the Hub refused the card of {repo_id}: {' '.join(str(exc).split())}") from None
        except (HfHubHTTPError, requests.RequestException, RuntimeError) as exc:
            err = _hub_error(exc)
            if err is None or not (_transient(err) or _status(err) == 412) or attempt == RETRY_ATTEMPTS - 1:
                raise
            _wait(attempt, f"commit to {repo_id}", err)
    raise AssertionError("unreachable")


def _content(lf: LocalFile) -> bytes | str:
    return lf.data if lf.data is not None else str(lf.path)


def _retry(call: Callable[[], T], what: str) -> T:
    """Run `call`, retrying transient failures (connection errors, 5xx, 429) with exponential backoff."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return call()
        except (HfHubHTTPError, requests.RequestException) as err:
            if not _transient(err) or attempt == RETRY_ATTEMPTS - 1:
                raise
            _wait(attempt, what, err)
    raise AssertionError("unreachable")


def _wait(attempt: int, what: str, err: Exception) -> None:
    delay = RETRY_BASE_S * 2**attempt
    logger.warning("%s failed (%s); retrying in %.1fs", what, type(err).__name__, delay)
    time.sleep(delay)


def _hub_error(exc: BaseException | None) -> Exception | None:
    """The Hub or network error behind `exc` (huggingface_hub wraps LFS upload errors in RuntimeError)."""
    while exc is not None:
        if isinstance(exc, HfHubHTTPError | requests.RequestException):
            return exc
        exc = exc.__cause__
    return None


def _status(err: Exception) -> int | None:
    response = getattr(err, "response", None)
    return response.status_code if response is not None else None


def _transient(err: Exception) -> bool:
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        return True
    status = _status(err)
    return status is not None and (status >= 500 or status == 429)


def _explain(err: Exception, endpoint: str) -> str:
    """One line that says what went wrong and what to do."""
    status = _status(err)
    if status == 401:
        return f"the Hub at {endpoint} rejected the token (missing or invalid): {LOGIN_HINT}"
    if status == 403:
        return f"this token has no write access to the repo or namespace: use a write token ({LOGIN_HINT})"
    if isinstance(err, RepositoryNotFoundError) or status == 404:
        return (
            f"repository or revision not found at {endpoint}: check the repo id and that your token sees it"
        )
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        return f"cannot reach the Hub at {endpoint} ({type(err).__name__}): check HF_ENDPOINT and the network"
    detail = getattr(err, "server_message", None) or str(err).splitlines()[0]
    return f"the Hub at {endpoint} answered {status}: {detail}"


def _scrub(text: str, secret: str | None) -> str:
    text = " ".join(text.split())
    return text.replace(secret, "***") if secret else text


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def format_report(report: PushReport) -> str:
    """Human-readable summary of a push (or of the plan of a dry run) for the CLI."""
    lines = []
    for repo in report.repos:
        if report.dry_run:
            outcome = "dry run: nothing pushed" + (" (repo would be created)" if repo.created else "")
        elif repo.commit:
            outcome = f"commit {repo.commit}"
        else:
            outcome = "no changes: nothing committed"
        lines.append(f"{repo.repo_type} {repo.repo_id}@{repo.revision} {repo.url} - {outcome}")
        for f in repo.files:
            lines.append(f"  {f.status:<9} {f.path} ({_size(f.size)})")
        upload = sum(f.size for f in repo.added + repo.changed)
        lines.append(
            f"  {len(repo.added)} new, {len(repo.changed)} changed, {len(repo.unchanged)} unchanged, "
            f"{len(repo.deleted)} deleted; {_size(upload)} to upload"
        )
    return "\n".join(lines)
