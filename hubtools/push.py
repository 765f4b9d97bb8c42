"""Publish a run folder: one Hub commit per repo, holding only what the run's family declares, checked before
the first upload, dataset repo first.

The model repo gets ``RUN/model/*`` at its root, ``RUN/onnx/`` as ``onnx/``, ``RUN/plots/`` as ``plots/`` and
``RUN/results.json``; the dataset repo gets ``RUN/dataset/*`` at its root. Only the files the run's model family
publishes (:mod:`hubtools.families`: weights in safetensors, config, tokenizer, the family's code files, ONNX files,
plots, cards, results) are uploaded: no hidden file, no pickle, no checkpoint; ``--dry-run`` lists what would be
published and what is left out. Both cards are rendered again for the repos they go to (every snippet loads from
the repo ids, the model card links the pushed dataset repo).

Everything is checked for every repo before anything is uploaded (:func:`publish_problems`,
:func:`preflight`): the Hub's metadata rules (the Hub's own ``/api/validate-yaml`` when it answers, the offline
rules of :mod:`hubtools.cards.rules` always), no machine path and no access token in any file that is text, no
binary file where text belongs, write access to every namespace, and each existing repo's visibility as asked
(``--private`` never publishes into a public repo; ``visibility`` changes it on purpose). Then the dataset repo is
committed first and the model repo second, so the model card never names a dataset that is not there; when the
second commit fails, the error says what was published and that the same command finishes the job.
A SpanMarker ``config.json`` that names its own folder as the encoder's place is uploaded naming the repo
instead (:mod:`hubtools.families.span_marker.reference`), so ``SpanMarkerModel.from_pretrained(repo_id)`` works from
the Hub.
Local files are compared with the remote tree (git blob sha1 for regular files, sha256 for LFS files), so an
unchanged run makes no commit, and remote files under the managed paths that no longer exist locally are
deleted in the same commit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

import requests
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import build_hf_headers, get_session, get_token

from hubtools.cards import card_texts
from hubtools.cards.rules import readme_problems
from hubtools.credentials import TOKEN
from hubtools.errors import PushError
from hubtools.families import BINARY_FILES, DATASET_FILES, family
from hubtools.hub_ids import is_repo_id
from hubtools.paths import machine_paths
from hubtools.results import RunResults
from hubtools.run import read_results
from hubtools.space import space_files
from hubtools.units import human_size

logger = logging.getLogger(__name__)

RETRY_ATTEMPTS = 4
RETRY_BASE_S = 1.0
MODEL_FOLDERS = {"onnx": "onnx", "plots": "plots"}
LOGIN_HINT = "set HF_TOKEN or run `huggingface-cli login`"
WRITE_ROLES = ("admin", "write", "contributor")
Status = Literal["new", "changed", "unchanged", "deleted"]
Visibility = Literal["private", "public"]
T = TypeVar("T")


@dataclass(frozen=True)
class FilePlan:
    """One file of a push: its path in the repo, size in bytes (remote size when deleted) and status."""

    path: str
    size: int
    status: Status


@dataclass
class RepoReport:
    """What a push did (or, in a dry run, would do) to one repo; ``commit`` is None when nothing changed.
    ``left_out`` are the run folder's files that are not published (not on the family's allow-list)."""

    repo_id: str
    repo_type: str
    url: str
    revision: str
    files: list[FilePlan] = field(default_factory=list)
    commit: str | None = None
    created: bool = False
    private: bool = False
    visibility_change: Visibility | None = None
    left_out: list[str] = field(default_factory=list)

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
    """The result of :func:`push_run`: one :class:`RepoReport` per repo, in the order they are committed
    (the dataset repo first)."""

    repos: list[RepoReport]
    dry_run: bool = False

    def repo(self, repo_type: str) -> RepoReport | None:
        """The report of the repo of ``repo_type`` (model, dataset), None when not pushed."""
        return next((r for r in self.repos if r.repo_type == repo_type), None)

    @property
    def model(self) -> RepoReport:
        return self.repo("model")

    @property
    def dataset(self) -> RepoReport | None:
        return self.repo("dataset")


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: read from ``path``, or ``data`` when given (content rewritten for the repo)."""

    path: Path
    size: int
    sha256: str
    git_sha1: str
    data: bytes | None = None


@dataclass
class Target:
    """One repo a push publishes to: repo path -> local file, and the run folder's files left out."""

    repo_id: str
    repo_type: str
    files: dict[str, LocalFile]
    left_out: list[str] = field(default_factory=list)


def plan_files(run_dir: str | Path, repo_id: str, dataset_repo_id: str | None = None,
               results: RunResults | None = None, space_repo_id: str | None = None,
               endpoint: str | None = None) -> list[Target]:
    """The repos a push publishes to, in commit order: the dataset repo (with ``dataset_repo_id``), the demo
    Space (with ``space_repo_id``: :mod:`hubtools.space`, loading the model from the Hub at ``endpoint``), then
    the model repo, whose card names the others; each with the allow-listed files of the run folder and the cards
    rendered for those repos."""
    run_dir = Path(run_dir)
    results = results or read_results(run_dir)
    model_card, dataset_card = card_texts(run_dir, results, model_repo_id=repo_id, dataset_repo_id=dataset_repo_id,
                                          space_repo_id=space_repo_id)
    targets = []
    if dataset_repo_id is not None:
        files, left_out = dataset_files(run_dir)
        files["README.md"] = _hash_data(run_dir / "dataset" / "README.md", dataset_card.encode())
        targets.append(Target(dataset_repo_id, "dataset", files, left_out))
    if space_repo_id is not None:
        pages = space_files(run_dir, results, repo_id, dataset_repo_id, endpoint=endpoint)
        targets.append(Target(space_repo_id, "space", {path: _hash_data(run_dir / "space" / path, data)
                                                       for path, data in pages.items()}))
    files, left_out = model_files(run_dir, repo_id, results)
    files["README.md"] = _hash_data(run_dir / "model" / "README.md", model_card.encode())
    targets.append(Target(repo_id, "model", files, left_out))
    return targets


def publish_problems(target: Target) -> list[str]:
    """What must not be published: card metadata the Hub refuses (offline rules), machine paths and access tokens
    in any text file (whatever its suffix), an access token in any file, binary content where text belongs."""
    problems = []
    for path, local in sorted(target.files.items()):
        where = f"{target.repo_id} {path}"
        if _has_token(local):
            problems.append(f"{where}: contains a Hugging Face access token")
        if _binary(path):
            continue
        text = _text(local)
        if text is None:
            problems.append(f"{where}: binary content where a text file belongs")
            continue
        if path == "README.md":
            problems += [f"{where}: {p}" for p in readme_problems(text, target.repo_type)]
        problems += [f"{where}: machine path {found!r}" for found in machine_paths(text)]
    return problems


def push_run(
    run_dir: str | Path,
    repo_id: str | None = None,
    *,
    dataset_repo_id: str | None = None,
    space_repo_id: str | None = None,
    private: bool = False,
    visibility: Visibility | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
) -> PushReport:
    """Push the dataset (with ``dataset_repo_id``), the demo Space (with ``space_repo_id``) and then the model of a
    run folder to the Hub.

    Repo ids default to the run's ``publish.model_repo_id`` / ``publish.dataset_repo_id``. Checks everything
    for every repo first (:func:`publish_problems`, :func:`preflight`), then creates missing repos (private with
    ``private`` or ``visibility="private"``), changes an existing repo's visibility only when ``visibility``
    asks, creates a missing ``revision`` branch, and makes at most one commit per repo. ``dry_run`` only reads
    from the Hub. Raises :class:`PushError` with a one-line message, which says what was already published when
    a later repo fails.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir():
        raise PushError(f"{run_dir}: no model/ folder; pass a finished run folder (see docs/architecture.md)")
    if private and visibility == "public":
        raise PushError("--private and --visibility public contradict each other: pass one")
    results = read_results(run_dir)
    if not (repo_id or results.publish.model_repo_id):
        raise PushError("no model repo to push to: pass --repo-id NAMESPACE/NAME or set publish.model_repo_id")
    repo_id = check_repo_id(repo_id or results.publish.model_repo_id, "--repo-id")
    dataset_repo_id = dataset_repo_id or results.publish.dataset_repo_id
    if dataset_repo_id is not None:
        check_repo_id(dataset_repo_id, "--dataset-repo-id")
    if space_repo_id is not None:
        check_repo_id(space_repo_id, "--space")
    api = HfApi(endpoint=endpoint, token=token)
    targets = plan_files(run_dir, repo_id, dataset_repo_id, results, space_repo_id, api.endpoint)
    problems = [p for target in targets for p in publish_problems(target)]
    if problems:
        raise PushError(f"nothing pushed: {len(problems)} problem(s) in what would be published: "
                        + "; ".join(problems) + " (see `hubtools check`)")
    secret = token or get_token()
    if not dry_run and not secret:
        raise PushError(f"no Hub token found: {LOGIN_HINT} (a token with write access)")
    message = commit_message or f"Upload run {run_dir.resolve().name} with hubtools"
    done: list[RepoReport] = []
    try:
        reports = preflight(api, targets, revision or "main", private, visibility, check_access=bool(secret))
        if dry_run:
            return PushReport(repos=reports, dry_run=True)
        for target, report in zip(targets, reports):
            _push_repo(api, target, report, revision, message)
            done.append(report)
    except PushError as err:
        raise PushError(_scrub(_after(done, str(err)), secret)) from None
    except (HfHubHTTPError, requests.RequestException, RuntimeError) as exc:
        err = _hub_error(exc)
        if err is None:
            raise
        raise PushError(_scrub(_after(done, _explain(err, api.endpoint)), secret)) from None
    return PushReport(repos=done)


def _after(done: list[RepoReport], problem: str) -> str:
    """``problem``, preceded by what this push already published when a later repo failed."""
    if not done:
        return problem
    published = ", ".join(f"{r.repo_type} {r.repo_id} (" + (f"commit {r.commit[:12]}" if r.commit else "unchanged")
                          + ")" for r in done)
    return (f"published {published}, but not the rest: {problem}; run the same command again to finish "
            "(files already on the Hub are skipped)")


def preflight(api: HfApi, targets: list[Target], branch: str, private: bool = False,
              visibility: Visibility | None = None, check_access: bool = True) -> list[RepoReport]:
    """Everything that can be known before the first upload, for every repo: the token's write access to each
    namespace, each existing repo's visibility against the one asked for (``private``: a repo this push creates
    is private, and an existing public one is refused; ``visibility``: created so, or changed to it), the card as
    the Hub validates it, and the plan of each commit. Raises :class:`PushError` naming the repo."""
    user = _retry(api.whoami, "whoami") if check_access else None
    if user is not None and user.get("auth", {}).get("accessToken", {}).get("role") == "read":
        raise PushError(f"this token can only read: use a token with write access ({LOGIN_HINT})")
    reports = []
    for target in targets:
        rid, rtype = target.repo_id, target.repo_type
        if user is not None and not can_write(user, rid):
            raise PushError(f"{rtype} repo {rid}: this token cannot write to the namespace {rid.split('/')[0]!r} "
                            f"(it can write to {', '.join(namespaces(user)) or 'none'}); nothing pushed")
        head, remote, is_private = _retry(lambda t=target: _remote_state(api, t.repo_id, t.repo_type, branch),
                                          f"read {rid}")
        prefix = "" if rtype == "model" else f"{rtype}s/"
        url = f"{api.endpoint}/{prefix}{rid}" + (f"/tree/{branch}" if branch != "main" else "")
        report = RepoReport(rid, rtype, url, branch, files=plan(target.files, remote, rtype), created=head is None,
                            private=(visibility or ("private" if private else "public")) == "private"
                            if head is None else is_private, left_out=target.left_out)
        if head is not None and visibility is not None and (visibility == "private") != is_private:
            report.visibility_change, report.private = visibility, visibility == "private"
        elif head is not None and private and not is_private:
            raise PushError(f"{rtype} repo {rid} exists and is public: --private only applies to a repo the push "
                            "creates; pass --visibility private to make it private first, or drop --private to "
                            "publish into the public repo; nothing pushed")
        hub_card = _hub_card_problems(api, target)
        if hub_card:
            raise PushError(f"the Hub refuses the card of {rid}: {'; '.join(hub_card)}; nothing pushed")
        reports.append(report)
    return reports
def namespaces(user: dict[str, Any]) -> list[str]:
    """The namespaces a whoami answer's user may write to: the user's own and the organizations where its role
    writes (a fine-grained token: those its scopes give ``repo.write``)."""
    token = user.get("auth", {}).get("accessToken", {})
    if token.get("role") == "fineGrained":
        scoped = token.get("fineGrained", {}).get("scoped", [])
        return [s["entity"]["name"] for s in scoped if "repo.write" in s.get("permissions", [])
                and s.get("entity", {}).get("type") in ("user", "org")]
    orgs = [o["name"] for o in user.get("orgs", []) if o.get("roleInOrg", "write") in WRITE_ROLES]
    return [user.get("name", ""), *orgs]


def can_write(user: dict[str, Any], repo_id: str) -> bool:
    """Whether the whoami answer's token can write to ``repo_id`` (its namespace, or a fine-grained scope on
    the repo itself)."""
    token = user.get("auth", {}).get("accessToken", {})
    if token.get("role") == "fineGrained":
        scoped = token.get("fineGrained", {}).get("scoped", [])
        if any(s.get("entity", {}).get("name") == repo_id and "repo.write" in s.get("permissions", [])
               for s in scoped):
            return True
    return repo_id.split("/")[0] in namespaces(user)


def _hub_card_problems(api: HfApi, target: Target) -> list[str]:
    """The problems the Hub's own ``/api/validate-yaml`` finds in the card (what ``RepoCard.validate`` asks,
    at this endpoint); none when the Hub cannot be asked (the offline rules have run already)."""
    card = target.files.get("README.md")
    if card is None or card.data is None:
        return []
    body = {"repoType": target.repo_type, "content": card.data.decode("utf-8")}
    try:
        response = get_session().post(f"{api.endpoint}/api/validate-yaml", json=body,
                                      headers=build_hf_headers(token=api.token), timeout=30)
    except requests.RequestException:
        return []
    if response.status_code != 400:
        return []
    try:
        return [e.get("message", str(e)) for e in response.json().get("errors", [])]
    except ValueError:
        return [" ".join(response.text.split())]


def model_files(run_dir: Path, repo_id: str, results: RunResults) -> tuple[dict[str, LocalFile], list[str]]:
    """Repo path -> local file for the model repo ``repo_id`` of a run folder (the card as it lies there): the
    files the run's family publishes; and the run folder's paths left out."""
    if not (run_dir / "model").is_dir():
        raise PushError(f"{run_dir}: no model/ folder; pass a finished run folder (see docs/architecture.md)")
    candidates = _tree(run_dir / "model", "", "model/")
    for folder, prefix in MODEL_FOLDERS.items():
        if (run_dir / folder).is_dir():
            candidates.update(_tree(run_dir / folder, prefix + "/", folder + "/"))
    if (run_dir / "results.json").is_file():
        candidates["results.json"] = (run_dir / "results.json", "results.json")
    model_family = family(results.model.family)
    files, left_out = allowed(candidates, model_family.published)
    for name in ("config.json", "onnx/config.json"):  # a SpanMarker model refers to itself: name the repo
        config = run_dir / ("model/" + name if name == "config.json" else name)
        text = _text(files[name]) if name in files else None
        text = model_family.config_for_repo(text, repo_id) if text is not None and _is_json(text) else None
        if text is not None:
            files[name] = _hash_data(config, text.encode("utf-8"))
    return files, sorted(left_out)


def dataset_files(run_dir: Path) -> tuple[dict[str, LocalFile], list[str]]:
    """Repo path -> local file for the dataset repo of a run folder, and the run folder's paths left out."""
    if not (run_dir / "dataset").is_dir():
        raise PushError(f"{run_dir}: no dataset/ folder to push; drop --dataset-repo-id or rerun the recipe")
    return allowed(_tree(run_dir / "dataset", "", "dataset/"), DATASET_FILES)


def allowed(candidates: dict[str, tuple[Path, str]], patterns: Iterable[str]) -> tuple[dict[str, LocalFile],
                                                                                        list[str]]:
    """The candidates (repo path -> (file, run folder path)) whose repo path matches one of ``patterns`` and
    has no hidden part, hashed; and the run folder paths of the others."""
    patterns = tuple(patterns)
    files, left_out = {}, []
    for repo_path, (path, shown) in sorted(candidates.items()):
        hidden = any(part.startswith(".") for part in PurePosixPath(repo_path).parts)
        if hidden or not _matches(repo_path, patterns):
            left_out.append(shown)
        else:
            files[repo_path] = _hash(path)
    return files, sorted(left_out)


def _matches(repo_path: str, patterns: Iterable[str]) -> bool:
    """``repo_path`` matches one of ``patterns`` of as many levels (``*`` never crosses a ``/``)."""
    depth = repo_path.count("/")
    return any(p.count("/") == depth and fnmatch.fnmatchcase(repo_path, p) for p in patterns)


def _binary(repo_path: str) -> bool:
    """A file that is binary by nature (weights, ONNX, parquet, PNG), by its name."""
    return any(fnmatch.fnmatchcase(PurePosixPath(repo_path).name, p) for p in BINARY_FILES)


def _tree(folder: Path, prefix: str, shown: str) -> dict[str, tuple[Path, str]]:
    return {prefix + p.relative_to(folder).as_posix(): (p, shown + p.relative_to(folder).as_posix())
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def _has_token(local: LocalFile) -> bool:
    """Whether the file holds an access token (read in overlapping chunks)."""
    if local.data is not None:
        return TOKEN.search(local.data) is not None
    overlap = b""
    with local.path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            if TOKEN.search(overlap + chunk):
                return True
            overlap = chunk[-128:]
    return False


def _text(local: LocalFile) -> str | None:
    """The file's text, or None when it is not UTF-8 text."""
    data = local.data if local.data is not None else local.path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


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


def check_repo_id(repo_id: str, option: str) -> str:
    """``repo_id`` when it is a Hub repo id with a namespace (huggingface_hub's rules), else PushError."""
    if is_repo_id(repo_id, namespace=True):
        return repo_id
    raise PushError(f"{option} {repo_id or ''!r} is not a repo id: use NAMESPACE/NAME (your user or org name)")


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


def _push_repo(api: HfApi, target: Target, report: RepoReport, revision: str | None, message: str) -> None:
    """Create the repo (or change its visibility as planned), the branch, and make the commit of ``report``."""
    rid, rtype, branch = target.repo_id, target.repo_type, report.revision
    kind = {"repo_type": rtype}
    if report.created:
        sdk = {"space_sdk": "static"} if rtype == "space" else {}  # the Hub creates no Space without its SDK
        _retry(lambda: api.create_repo(rid, private=report.private, exist_ok=True, **kind, **sdk), f"create {rid}")
    elif report.visibility_change is not None:
        _retry(lambda: api.update_repo_settings(rid, private=report.private, **kind), f"change visibility of {rid}")
    if revision and not _retry(lambda: _has_branch(api, rid, rtype, branch), "list branches"):
        _retry(lambda: api.create_branch(rid, branch=branch, exist_ok=True, **kind), "create branch")
    report.commit = _commit(api, rid, rtype, branch, target.files, message)


def _remote_state(api: HfApi, repo_id: str, repo_type: str, branch: str) -> tuple[str | None, dict, bool]:
    """(head commit of `branch` (of main when the branch is new) or None without a repo, path -> RepoFile,
    whether the repo is private)."""
    try:
        info = api.repo_info(repo_id, repo_type=repo_type, revision=branch)
    except RevisionNotFoundError:
        info = api.repo_info(repo_id, repo_type=repo_type)
    except RepositoryNotFoundError as err:
        if err.response is not None and err.response.status_code == 401:
            raise
        return None, {}, False
    tree = api.list_repo_tree(repo_id, repo_type=repo_type, revision=info.sha, recursive=True)
    return info.sha, {f.path: f for f in tree if isinstance(f, RepoFile)}, bool(info.private)


def _has_branch(api: HfApi, repo_id: str, repo_type: str, branch: str) -> bool:
    return any(b.name == branch for b in api.list_repo_refs(repo_id, repo_type=repo_type).branches)


def _commit(api: HfApi, repo_id: str, repo_type: str, branch: str, local: dict[str, LocalFile], message: str):
    """Make the commit; after a failure re-plan against the new remote state (the commit may have landed)."""
    first_head = None
    for attempt in range(RETRY_ATTEMPTS):
        head, remote, _ = _retry(lambda: _remote_state(api, repo_id, repo_type, branch), f"read {repo_id}")
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


def format_report(report: PushReport) -> str:
    """Human-readable summary of a push (or of the plan of a dry run) for the CLI: per repo, in commit order,
    every file published with its status, and the run folder's files left out."""
    lines = []
    for repo in report.repos:
        if report.dry_run:
            outcome = "dry run: nothing pushed" + (" (repo would be created)" if repo.created else "")
        elif repo.commit:
            outcome = f"commit {repo.commit}"
        else:
            outcome = "no changes: nothing committed"
        visibility = "private" if repo.private else "public"
        if repo.visibility_change:
            visibility = f"made {repo.visibility_change}" if not report.dry_run else f"would be made {visibility}"
        lines.append(f"{repo.repo_type} {repo.repo_id}@{repo.revision} ({visibility}) {repo.url} - {outcome}")
        for f in repo.files:
            lines.append(f"  {f.status:<9} {f.path} ({human_size(f.size)})")
        upload = sum(f.size for f in repo.added + repo.changed)
        lines.append(
            f"  {len(repo.added)} new, {len(repo.changed)} changed, {len(repo.unchanged)} unchanged, "
            f"{len(repo.deleted)} deleted; {human_size(upload)} to upload"
        )
        if repo.left_out:
            lines.append(f"  not published (not on the {repo.repo_type} repo's list of files): "
                         + ", ".join(repo.left_out))
    return "\n".join(lines)
