"""A Hugging Face Hub-compatible HTTP server for tests (standard library, plus hubtools for the metadata rules).

Run as ``python tests/hub_server.py --port 0 --root DIR --user alice:TOKEN:write:nerhub-org``; the first
stdout line is ``PORT <n>``. It answers the routes that the unmodified ``huggingface_hub``, ``transformers``
and ``datasets`` clients use (see docs in ../shared/notes/hub-api.md). Storage under ``--root``:
``blobs/`` (content addressed by sha256), ``commits/`` (immutable JSON objects: parent + tree), ``repos/``
(one JSON file per repo: visibility, branches, tags). A commit becomes visible by one atomic ref update. A
commit that adds or changes a README.md whose metadata breaks the Hub's rules is refused with 400 and the
Hub's "Invalid metadata in README.md." message (the rules of :mod:`hubtools.cards.rules`; a Space's README must
name its ``sdk``, and creating a Space needs one too).

CORS: every answer allows any origin and exposes the headers the clients read; ``OPTIONS`` on any path answers a
browser's preflight (no authentication), so a page on another 127.0.0.1 port (Transformers.js in a browser) loads
from the server.

Test-only routes: ``GET /_test/unknown-routes``, ``GET /_test/requests``, ``POST /_test/faults``
(``{"drop": "lfs_upload"|"commit", "count": 1}``: the next matching requests read part of their body and
then lose their connection without an answer).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import codecs
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from hubtools.cards.rules import (  # the Hub's rules, as push and check use
    SPACE_SDKS,
    front_matter,
    readme_problems,
    refusal,
)

LFS_SUFFIXES = (".safetensors", ".onnx", ".parquet", ".png", ".bin", ".pt", ".arrow", ".h5", ".msgpack")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()
HEX40 = re.compile(r"^[0-9a-f]{40}$")

# CORS: browsers (Transformers.js / onnxruntime-web pages) may read every answer and the headers the clients use.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, X-Repo-Commit, X-Linked-Etag, X-Linked-Size, X-Error-Code, "
    "X-Error-Message, Content-Range, Content-Length, Accept-Ranges, Location",
}
CORS_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Range, If-None-Match, If-Match, User-Agent, "
    "X-Requested-With",
    "Access-Control-Max-Age": "600",
}


class HubError(Exception):
    """An error answered as the Hub does: status, JSON body, X-Error-Code / X-Error-Message."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class DropConnection(Exception):
    """Raised by fault injection: the handler drops the socket without answering."""


@dataclass
class User:
    name: str
    token: str
    role: str  # "read" or "write"
    orgs: list[str]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def is_binary(sample: bytes) -> bool:
    """True when a content sample has a NUL byte or is not UTF-8 (a truncated last character is allowed)."""
    if b"\0" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return True
    return False


def wants_lfs(path: str, size: int, sample: bytes) -> bool:
    return path.endswith(LFS_SUFFIXES) or size > LFS_MIN_SIZE or is_binary(sample)


def parse_front_matter(text: str) -> dict:
    """The YAML front matter of a card (empty when there is none or it is not a mapping)."""
    try:
        meta = front_matter(text)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


class Store:
    """Blobs, commits and refs on disk; every mutation holds one lock and ends with an atomic rename."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.RLock()
        for sub in ("blobs", "commits", "repos", "verified", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    # blobs
    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if not self.blob_path(sha).exists():
            self._write(self.blob_path(sha), data)
        return sha

    def has_blob(self, sha256: str) -> bool:
        return bool(re.fullmatch(r"[0-9a-f]{64}", sha256)) and self.blob_path(sha256).exists()

    def mark_verified(self, sha256: str) -> None:
        self._write(self.root / "verified" / sha256, b"")

    def is_verified(self, sha256: str) -> bool:
        return self.has_blob(sha256) and (self.root / "verified" / sha256).exists()

    # repos
    def repo_path(self, rtype: str, repo_id: str) -> Path:
        return self.root / "repos" / rtype / f"{repo_id}.json"

    def load_repo(self, rtype: str, repo_id: str) -> dict | None:
        path = self.repo_path(rtype, repo_id)
        return json.loads(path.read_text()) if path.exists() else None

    def save_repo(self, rtype: str, repo_id: str, repo: dict) -> None:
        self._write(self.repo_path(rtype, repo_id), json.dumps(repo, indent=1).encode())

    def delete_repo(self, rtype: str, repo_id: str) -> None:
        self.repo_path(rtype, repo_id).unlink()

    # commits
    def save_commit(self, commit: dict) -> str:
        oid = hashlib.sha1(json.dumps(commit, sort_keys=True).encode()).hexdigest()
        self._write(self.root / "commits" / f"{oid}.json", json.dumps(commit, indent=1).encode())
        return oid

    def load_commit(self, oid: str) -> dict | None:
        path = self.root / "commits" / f"{oid}.json"
        return json.loads(path.read_text()) if HEX40.match(oid) and path.exists() else None


class HubState:
    """Server-wide state: storage, users, test bookkeeping (unknown routes, request log, faults)."""

    def __init__(self, root: Path, users: list[User]):
        self.store = Store(root)
        self.tokens = {u.token: u for u in users}
        self.secret = secrets.token_bytes(16)
        self.unknown_routes: list[str] = []
        self.requests: list[dict] = []
        self.faults: dict[str, int] = {}
        self.lock = threading.Lock()

    def sign(self, oid: str) -> str:
        return hmac.new(self.secret, oid.encode(), "sha256").hexdigest()[:32]

    def take_fault(self, kind: str) -> bool:
        with self.lock:
            if self.faults.get(kind, 0) > 0:
                self.faults[kind] -= 1
                return True
        return False


REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


class Handler(BaseHTTPRequestHandler):
    """Routes a request to the matching ``route_*`` method; errors become Hub-style answers."""

    protocol_version = "HTTP/1.1"
    server_version = "nerhub-test-hub/0.1"
    state: HubState

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the base class
        if os.environ.get("HUB_SERVER_VERBOSE"):
            super().log_message(format, *args)

    # plumbing ---------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def do_OPTIONS(self) -> None:
        """A browser's CORS preflight, on any path: 204 with the allowed methods and headers (logged)."""
        if self.headers.get("Content-Length"):
            self.rfile.read(int(self.headers["Content-Length"]))
        self.raw_path, self.user = urlsplit(self.path).path, None
        self.log_request_entry(204)
        self.send_response(204)
        for key, value in {**CORS_HEADERS, **CORS_PREFLIGHT_HEADERS}.items():
            self.send_header(key, value)
        self.end_headers()

    def log_request_entry(self, status: int) -> None:
        """Add this request to the request log; called before any byte of the answer goes out, so a client
        that reads the log after its answer always finds its request there."""
        if not self.raw_path.startswith("/_test/"):
            with self.state.lock:
                self.state.requests.append(
                    {"method": self.command, "path": self.raw_path, "status": status, "user": self.user_name}
                )

    def dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.segments = [unquote(s) for s in url.path.split("/")[1:]]
        self.raw_path = url.path
        self._body: bytes | None = None
        self.user = None
        try:
            self.user = self.authenticate()
            self.route()
        except HubError as err:
            self.send_json({"error": err.message}, err.status, err.headers, err.code, err.message)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.log_request_entry(-1)

    @property
    def user_name(self) -> str | None:
        return self.user.name if self.user else None

    def body(self) -> bytes:
        if self._body is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    chunks.append(self.rfile.read(size + 2)[:size])
                    if size == 0:
                        break
                self._body = b"".join(chunks)
            else:
                self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return self._body

    def drop_mid_request(self) -> None:
        """Fault injection: read part of the body, then lose the connection without answering."""
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length // 2)
        print(f"hub_server: FAULT dropping {self.command} {self.raw_path}", file=sys.stderr, flush=True)
        raise DropConnection

    def json_body(self) -> dict:
        try:
            return json.loads(self.body() or b"{}")
        except ValueError as err:
            raise HubError(400, f"invalid JSON body: {err}") from err

    def send_json(self, obj, status: int = 200, headers: dict | None = None, code=None, message=None) -> None:
        data = json.dumps(obj).encode()
        headers = dict(headers or {})
        if code:
            headers["X-Error-Code"] = code
        if message:
            headers["X-Error-Message"] = message.replace("\n", " ")
        self.send_bytes(data, status, {"Content-Type": "application/json", **headers})

    def send_bytes(self, data: bytes, status: int = 200, headers: dict | None = None, length=None) -> None:
        if self._body is None and self.command in ("POST", "PUT", "PATCH", "DELETE"):
            self.body()  # keep the connection usable: consume what the client sent
        self.log_request_entry(status)
        self.send_response(status)
        for key, value in {**CORS_HEADERS, **(headers or {})}.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def authenticate(self) -> User | None:
        auth = self.headers.get("Authorization", "")
        token = None
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        elif auth.lower().startswith("basic "):
            try:
                token = base64.b64decode(auth[6:]).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                token = "?"
        if not token:
            return None
        user = self.state.tokens.get(token)
        if (
            user is None
            and not self.raw_path.startswith("/_test/")
            and not self.raw_path.startswith("/_lfs/")
        ):
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def unknown(self) -> None:
        route = f"{self.command} {self.path}"
        print(f"hub_server: UNKNOWN ROUTE {route}", file=sys.stderr, flush=True)
        with self.state.lock:
            self.state.unknown_routes.append(route)
        raise HubError(501, f"hub_server does not implement {route}")

    # routing ----------------------------------------------------------------------------------------
    def route(self) -> None:
        seg, method = self.segments, self.command
        if seg[:1] == ["_test"]:
            return self.route_test()
        if seg[:2] == ["_lfs", "upload"] and len(seg) == 3 and method == "PUT":
            return self.route_lfs_put(seg[2])
        if seg[:1] == ["_lfs"] and len(seg) == 2 and method in ("GET", "HEAD"):
            return self.route_lfs_get(seg[1])
        if seg == ["api", "whoami-v2"] and method == "GET":
            return self.route_whoami()
        if seg == ["api", "validate-yaml"] and method == "POST":
            return self.route_validate_yaml()
        if seg[:2] == ["api", "repos"] and len(seg) == 3:
            if seg[2] == "create" and method == "POST":
                return self.route_create()
            if seg[2] == "delete" and method == "DELETE":
                return self.route_delete()
        if seg[:1] == ["api"] and len(seg) >= 4 and seg[1] in REPO_TYPES:
            return self.route_api(REPO_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:])
        rtype, rest = ("model", seg)
        if seg[:1] in (["datasets"], ["spaces"]):
            rtype, rest = REPO_TYPES[seg[0]], seg[1:]
        if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == ["info", "lfs", "objects", "batch"]:
            if method == "POST":
                return self.route_lfs_batch(rtype, f"{rest[0]}/{rest[1][:-4]}")
        if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            return self.route_resolve(rtype, f"{rest[0]}/{rest[1]}", rest[3], "/".join(rest[4:]))
        return self.unknown()

    def route_api(self, rtype: str, repo_id: str, rest: list[str]) -> None:
        method, action = self.command, rest[0] if rest else ""
        if not rest and method == "GET":
            return self.route_info(rtype, repo_id, "main")
        if action == "revision" and len(rest) == 2 and method == "GET":
            return self.route_info(rtype, repo_id, rest[1])
        if action == "tree" and len(rest) >= 2 and method == "GET":
            return self.route_tree(rtype, repo_id, rest[1], "/".join(rest[2:]))
        if action == "paths-info" and len(rest) == 2 and method == "POST":
            return self.route_paths_info(rtype, repo_id, rest[1])
        if action == "preupload" and len(rest) == 2 and method == "POST":
            return self.route_preupload(rtype, repo_id, rest[1])
        if action == "commit" and len(rest) == 2 and method == "POST":
            return self.route_commit(rtype, repo_id, rest[1])
        if action == "refs" and len(rest) == 1 and method == "GET":
            return self.route_refs(rtype, repo_id)
        if action == "commits" and len(rest) == 2 and method == "GET":
            return self.route_commits(rtype, repo_id, rest[1])
        if action == "branch" and len(rest) == 2 and method in ("POST", "DELETE"):
            return self.route_branch(rtype, repo_id, rest[1])
        if action == "tag" and len(rest) == 2 and method in ("POST", "DELETE"):
            return self.route_tag(rtype, repo_id, rest[1])
        if action == "settings" and len(rest) == 1 and method == "PUT":
            return self.route_settings(rtype, repo_id)
        if action == "lfs-verify" and len(rest) == 1 and method == "POST":
            return self.route_lfs_verify(rtype, repo_id)
        return self.unknown()

    # access -----------------------------------------------------------------------------------------
    def can_write_ns(self, namespace: str) -> bool:
        return bool(
            self.user and self.user.role == "write" and namespace in [self.user.name, *self.user.orgs]
        )

    def repo(self, rtype: str, repo_id: str, write: bool = False) -> dict:
        repo = self.state.store.load_repo(rtype, repo_id)
        ns = repo_id.split("/")[0]
        visible = repo is not None and (
            not repo["private"] or (self.user is not None and ns in [self.user.name, *self.user.orgs])
        )
        if not visible:
            raise HubError(404, f"Repository not found: {rtype} {repo_id}", "RepoNotFound")
        if write and self.user is None:
            raise HubError(401, "You must be authenticated to write to a repository")
        if write and not self.can_write_ns(ns):
            raise HubError(403, f"You don't have the rights to write to {rtype} {repo_id}")
        return repo

    def resolve_rev(self, rtype: str, repo_id: str, repo: dict, rev: str) -> str:
        oid = repo["branches"].get(rev) or repo["tags"].get(rev)
        if oid is None and HEX40.match(rev):
            commit = self.state.store.load_commit(rev)
            if commit and commit["repo"] == f"{rtype}/{repo_id}":
                oid = rev
        if oid is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return oid

    def tree(self, oid: str) -> dict:
        return self.state.store.load_commit(oid)["tree"]

    # routes: test -----------------------------------------------------------------------------------
    def route_test(self) -> None:
        name = self.segments[1] if len(self.segments) > 1 else ""
        with self.state.lock:
            if name == "unknown-routes" and self.command == "GET":
                return self.send_json(list(self.state.unknown_routes))
            if name == "requests" and self.command == "GET":
                return self.send_json(list(self.state.requests))
            if name == "unknown-routes" and self.command == "DELETE":
                self.state.unknown_routes.clear()
                return self.send_json({"ok": True})
            if name == "requests" and self.command == "DELETE":
                self.state.requests.clear()
                return self.send_json({"ok": True})
        if name == "faults" and self.command == "POST":
            body = self.json_body()
            with self.state.lock:
                if body.get("drop"):
                    self.state.faults[body["drop"]] = int(body.get("count", 1))
                else:
                    self.state.faults.clear()
                return self.send_json(dict(self.state.faults))
        return self.unknown()

    # routes: users and repos ------------------------------------------------------------------------
    def route_whoami(self) -> None:
        if self.user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        u = self.user
        self.send_json(
            {
                "type": "user",
                "name": u.name,
                "fullname": u.name,
                "orgs": [{"type": "org", "name": o, "roleInOrg": u.role} for o in u.orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": u.role}},
            }
        )

    def route_validate_yaml(self) -> None:
        body = self.json_body()
        content, repo_type = body.get("content", ""), body.get("repoType") or "model"
        errors = [{"message": problem} for problem in readme_problems(content, repo_type)]
        warnings = [] if parse_front_matter(content) else [{"message": "empty or missing yaml metadata in repo card"}]
        self.send_json({"errors": errors, "warnings": warnings}, 400 if errors else 200)

    def route_create(self) -> None:
        body = self.json_body()
        rtype = body.get("type") or "model"
        ns = body.get("organization") or (self.user.name if self.user else None)
        if self.user is None:
            raise HubError(401, "You must be authenticated to create a repository")
        if rtype not in URL_PREFIX or not body.get("name"):
            raise HubError(400, "invalid repo type or name")
        if rtype == "space" and body.get("sdk") not in SPACE_SDKS:
            raise HubError(400, f"a Space needs its sdk, one of {', '.join(sorted(SPACE_SDKS))}")
        repo_id = f"{ns}/{body['name']}"
        url = f"{self.base_url()}/{URL_PREFIX[rtype]}{repo_id}"
        if not self.can_write_ns(ns):
            raise HubError(403, f"You don't have the rights to create a {rtype} under the namespace {ns}")
        store = self.state.store
        with store.lock:
            if store.load_repo(rtype, repo_id) is not None:
                return self.send_json({"error": "You already created this repo", "url": url}, 409)
            blob = store.put_blob(GITATTRIBUTES)
            entry = {"sha256": blob, "size": len(GITATTRIBUTES), "lfs": False}
            oid = store.save_commit(
                self.commit_object(rtype, repo_id, None, {".gitattributes": entry}, "initial commit")
            )
            repo = {
                "private": bool(body.get("private")),
                "createdAt": now(),
                "branches": {"main": oid},
                "tags": {},
            }
            store.save_repo(rtype, repo_id, repo)
        self.send_json({"url": url, "name": repo_id, "id": repo_id})

    def route_delete(self) -> None:
        body = self.json_body()
        rtype = body.get("type") or "model"
        ns = body.get("organization") or self.user_name
        repo_id = f"{ns}/{body.get('name')}"
        with self.state.store.lock:
            self.repo(rtype, repo_id, write=True)
            self.state.store.delete_repo(rtype, repo_id)
        self.send_json({})

    def route_settings(self, rtype: str, repo_id: str) -> None:
        body = self.json_body()
        with self.state.store.lock:
            repo = self.repo(rtype, repo_id, write=True)
            if "private" in body:
                repo["private"] = bool(body["private"])
            self.state.store.save_repo(rtype, repo_id, repo)
        self.send_json({"private": repo["private"]})

    def commit_object(self, rtype, repo_id, parent, tree, title, message="") -> dict:
        return {
            "repo": f"{rtype}/{repo_id}",
            "parent": parent,
            "tree": tree,
            "title": title,
            "message": message,
            "author": self.user_name,
            "date": now(),
            "nonce": secrets.token_hex(4),
        }

    # routes: read -----------------------------------------------------------------------------------
    def entry_json(self, path: str, e: dict, expand: bool = False, commit: dict | None = None) -> dict:
        out = {"type": "file", "path": path, "size": e["size"]}
        if e["lfs"]:
            pointer = lfs_pointer(e["sha256"], e["size"])
            out["oid"] = git_sha1(pointer)
            out["lfs"] = {"oid": e["sha256"], "size": e["size"], "pointerSize": len(pointer)}
        else:
            out["oid"] = git_sha1(self.state.store.blob_path(e["sha256"]).read_bytes())
        if expand and commit:
            out["lastCommit"] = {"id": commit["oid"], "title": commit["title"], "date": commit["date"]}
            out["securityFileStatus"] = {
                "status": "safe",
                "avScan": {"virusFound": False, "virusNames": None},
                "pickleImportScan": None,
            }
        return out

    def dir_json(self, path: str, tree: dict) -> dict:
        inside = sorted(p for p in tree if p.startswith(path + "/"))
        oid = hashlib.sha1(json.dumps([[p, tree[p]["sha256"]] for p in inside]).encode()).hexdigest()
        return {"type": "directory", "path": path, "oid": oid, "size": 0}

    def route_info(self, rtype: str, repo_id: str, rev: str) -> None:
        repo = self.repo(rtype, repo_id)
        oid = self.resolve_rev(rtype, repo_id, repo, rev)
        commit = self.state.store.load_commit(oid)
        tree, blobs = commit["tree"], self.query.get("blobs", "").lower() in ("1", "true")
        card = {}
        if "README.md" in tree:
            card = parse_front_matter(
                self.state.store.blob_path(tree["README.md"]["sha256"]).read_text("utf-8")
            )
        siblings = []
        for path in sorted(tree):
            sibling = {"rfilename": path}
            if blobs:
                info = self.entry_json(path, tree[path])
                sibling.update(size=info["size"], blobId=info["oid"])
                if "lfs" in info:
                    lfs = info["lfs"]
                    sibling["lfs"] = {
                        "size": lfs["size"],
                        "sha256": lfs["oid"],
                        "pointerSize": lfs["pointerSize"],
                    }
            siblings.append(sibling)
        tags = [t for t in (card.get("tags") or []) if isinstance(t, str)]
        library = card.get("library_name") or (
            "transformers" if "config.json" in tree and rtype == "model" else None
        )
        tags += [f"license:{card['license']}"] if isinstance(card.get("license"), str) else []
        info = {
            "_id": hashlib.sha1(f"{rtype}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": oid,
            "lastModified": commit["date"],
            "createdAt": repo["createdAt"],
            "private": repo["private"],
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags + ([library] if library else []),
            "cardData": card or None,
            "siblings": siblings,
        }
        if rtype == "model":
            info.update(modelId=repo_id, library_name=library, pipeline_tag=card.get("pipeline_tag"))
        self.send_json(info)

    def route_tree(self, rtype: str, repo_id: str, rev: str, path: str) -> None:
        repo = self.repo(rtype, repo_id)
        oid = self.resolve_rev(rtype, repo_id, repo, rev)
        tree = self.tree(oid)
        path = path.strip("/")
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        expand = self.query.get("expand", "").lower() in ("1", "true")
        prefix = f"{path}/" if path else ""
        below = [p for p in sorted(tree) if p.startswith(prefix)]
        if path and not below:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": oid})
        dirs, files = set(), []
        for p in below:
            rel = p[len(prefix) :].split("/")
            depth = len(rel) if recursive else 1
            for i in range(1, min(depth, len(rel) - 1) + 1):
                dirs.add(prefix + "/".join(rel[:i]))
            if recursive or len(rel) == 1:
                files.append(p)
        commit = {**self.state.store.load_commit(oid), "oid": oid}
        out = [self.dir_json(d, tree) for d in sorted(dirs)]
        out += [self.entry_json(p, tree[p], expand, commit) for p in files]
        self.send_json(out)

    def route_paths_info(self, rtype: str, repo_id: str, rev: str) -> None:
        repo = self.repo(rtype, repo_id)
        oid = self.resolve_rev(rtype, repo_id, repo, rev)
        tree = self.tree(oid)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            body = self.json_body()
            paths, expand = body.get("paths", []), bool(body.get("expand"))
        else:
            form = parse_qs(self.body().decode())
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[-1].lower() == "true"
        commit = {**self.state.store.load_commit(oid), "oid": oid}
        out = []
        for p in paths:
            p = p.strip("/")
            if p in tree:
                out.append(self.entry_json(p, tree[p], expand, commit))
            elif any(q.startswith(p + "/") for q in tree):
                out.append(self.dir_json(p, tree))
        self.send_json(out)

    def route_refs(self, rtype: str, repo_id: str) -> None:
        repo = self.repo(rtype, repo_id)
        refs = {
            "branches": [
                {"name": b, "ref": f"refs/heads/{b}", "targetCommit": o} for b, o in repo["branches"].items()
            ],
            "tags": [
                {"name": t, "ref": f"refs/tags/{t}", "targetCommit": o} for t, o in repo["tags"].items()
            ],
            "converts": [],
        }
        if self.query.get("include_prs"):
            refs["pullRequests"] = []
        self.send_json(refs)

    def route_commits(self, rtype: str, repo_id: str, rev: str) -> None:
        repo = self.repo(rtype, repo_id)
        oid, out = self.resolve_rev(rtype, repo_id, repo, rev), []
        while oid:
            c = self.state.store.load_commit(oid)
            out.append(
                {
                    "id": oid,
                    "title": c["title"],
                    "message": c["message"],
                    "authors": [{"user": c["author"] or "system", "avatar": None}],
                    "date": c["date"],
                }
            )
            oid = c["parent"]
        self.send_json(out)

    def route_resolve(self, rtype: str, repo_id: str, rev: str, path: str) -> None:
        repo = self.repo(rtype, repo_id)
        oid = self.resolve_rev(rtype, repo_id, repo, rev)
        entry = self.tree(oid).get(path)
        headers = {"X-Repo-Commit": oid, "Accept-Ranges": "bytes"}
        if entry is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers)
        if entry["lfs"]:
            sha = entry["sha256"]
            location = f"{self.base_url()}/_lfs/{sha}?sig={self.state.sign(sha)}"
            headers.update(
                {
                    "ETag": f'"{sha}"',
                    "X-Linked-Etag": f'"{sha}"',
                    "X-Linked-Size": entry["size"],
                    "Location": location,
                }
            )
            return self.send_bytes(b"", 302, headers)
        data = self.state.store.blob_path(entry["sha256"]).read_bytes()
        headers["ETag"] = f'"{git_sha1(data)}"'
        self.send_range(data, headers)

    def route_lfs_get(self, sha: str) -> None:
        if not hmac.compare_digest(
            self.query.get("sig", ""), self.state.sign(sha)
        ) or not self.state.store.has_blob(sha):
            raise HubError(403, "invalid or expired signature")
        data = self.state.store.blob_path(sha).read_bytes()
        self.send_range(data, {"ETag": f'"{sha}"', "Accept-Ranges": "bytes"})

    def send_range(self, data: bytes, headers: dict) -> None:
        headers = {"Content-Type": "application/octet-stream", **headers}
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if not match or data == b"":
            return self.send_bytes(data, 200, headers)
        start, end = match.groups()
        if start == "":
            start, end = max(len(data) - int(end), 0), len(data) - 1
        else:
            start, end = int(start), min(int(end) if end else len(data) - 1, len(data) - 1)
        if start >= len(data) or start > end:
            return self.send_bytes(b"", 416, {**headers, "Content-Range": f"bytes */{len(data)}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self.send_bytes(data[start : end + 1], 206, headers)

    # routes: write ----------------------------------------------------------------------------------
    def route_preupload(self, rtype: str, repo_id: str, rev: str) -> None:
        repo = self.repo(rtype, repo_id, write=True)
        tree = self.tree(self.resolve_rev(rtype, repo_id, repo, rev)) if rev in repo["branches"] else {}
        files = []
        for f in self.json_body().get("files", []):
            sample = base64.b64decode(f.get("sample", ""))
            lfs = wants_lfs(f["path"], int(f.get("size", 0)), sample)
            out = {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            remote = tree.get(f["path"])
            if remote:
                remote_oid = self.entry_json(f["path"], remote)["oid"]
                out["oid"] = remote["sha256"] if remote["lfs"] else remote_oid
            files.append(out)
        self.send_json({"files": files})

    def route_lfs_batch(self, rtype: str, repo_id: str) -> None:
        self.repo(rtype, repo_id, write=True)
        body = self.json_body()
        if body.get("operation") != "upload":
            return self.unknown()
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            item = {"oid": oid, "size": size, "authenticated": True}
            if not self.state.store.is_verified(oid):
                api = f"{self.base_url()}/api/{rtype}s/{repo_id}"
                item["actions"] = {
                    "upload": {
                        "href": f"{self.base_url()}/_lfs/upload/{oid}?sig={self.state.sign(oid)}&size={size}"
                    },
                    "verify": {"href": f"{api}/lfs-verify", "header": {}},
                }
            objects.append(item)
        self.send_bytes(
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            200,
            {"Content-Type": "application/vnd.git-lfs+json"},
        )

    def route_lfs_put(self, oid: str) -> None:
        if self.state.take_fault("lfs_upload"):
            self.drop_mid_request()
        if not hmac.compare_digest(self.query.get("sig", ""), self.state.sign(oid)):
            raise HubError(403, "invalid upload signature")
        data = self.body()
        if hashlib.sha256(data).hexdigest() != oid or len(data) != int(self.query.get("size", -1)):
            raise HubError(400, f"uploaded content does not match oid {oid} / size")
        self.state.store.put_blob(data)
        self.send_bytes(b"", 200)

    def route_lfs_verify(self, rtype: str, repo_id: str) -> None:
        self.repo(rtype, repo_id, write=True)
        body = self.json_body()
        oid, size = body.get("oid", ""), body.get("size")
        store = self.state.store
        if not store.has_blob(oid) or store.blob_path(oid).stat().st_size != size:
            raise HubError(404, f"LFS object {oid} was not uploaded")
        store.mark_verified(oid)
        self.send_json({"ok": True})

    def route_commit(self, rtype: str, repo_id: str, rev: str) -> None:
        if self.state.take_fault("commit") or self.state.take_fault(f"commit:{rtype}/{repo_id}"):
            self.drop_mid_request()
        self.repo(rtype, repo_id, write=True)
        if self.query.get("create_pr"):
            return self.unknown()
        lines = [json.loads(line) for line in self.body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the first line of a commit must be its header")
        header, ops = lines[0]["value"], lines[1:]
        store = self.state.store
        with store.lock:
            repo = self.repo(rtype, repo_id, write=True)
            if rev not in repo["branches"]:
                raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            head = repo["branches"][rev]
            if header.get("parentCommit") and header["parentCommit"] != head:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            tree = dict(self.tree(head))
            for op in ops:
                key, value = op.get("key"), op.get("value", {})
                path = value.get("path", "").strip("/")
                if key == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise HubError(400, f"unsupported encoding for {path}")
                    data = base64.b64decode(value["content"])
                    tree[path] = {"sha256": store.put_blob(data), "size": len(data), "lfs": False}
                elif key == "lfsFile":
                    oid = value["oid"]
                    if not store.is_verified(oid):
                        raise HubError(422, f"LFS object {oid} for {path} was not uploaded and verified")
                    tree[path] = {"sha256": oid, "size": store.blob_path(oid).stat().st_size, "lfs": True}
                elif key == "deletedFile":
                    if tree.pop(path, None) is None:
                        raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
                elif key == "deletedFolder":
                    gone = [p for p in tree if p.startswith(path + "/")]
                    if not gone:
                        raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
                    for p in gone:
                        del tree[p]
                else:
                    raise HubError(400, f"unknown commit operation {key!r}")
            readme = tree.get("README.md")
            if readme and readme != self.tree(head).get("README.md"):
                text = store.blob_path(readme["sha256"]).read_text("utf-8", errors="replace")
                problems = readme_problems(text, rtype)
                if problems:
                    raise HubError(400, refusal(problems))
            commit = self.commit_object(
                rtype, repo_id, head, tree, header.get("summary") or "Update", header.get("description") or ""
            )
            oid = store.save_commit(commit)
            repo["branches"][rev] = oid
            store.save_repo(rtype, repo_id, repo)
        url = f"{self.base_url()}/{URL_PREFIX[rtype]}{repo_id}/commit/{oid}"
        self.send_json({"commitOid": oid, "commitUrl": url, "success": True})

    def route_branch(self, rtype: str, repo_id: str, branch: str) -> None:
        store = self.state.store
        with store.lock:
            repo = self.repo(rtype, repo_id, write=True)
            if self.command == "DELETE":
                if branch not in repo["branches"] or branch == "main":
                    raise HubError(404 if branch != "main" else 403, f"cannot delete branch {branch}")
                del repo["branches"][branch]
            else:
                if branch in repo["branches"]:
                    raise HubError(409, f"Reference already exists: refs/heads/{branch}")
                start = self.json_body().get("startingPoint") or "main"
                repo["branches"][branch] = self.resolve_rev(rtype, repo_id, repo, start)
            store.save_repo(rtype, repo_id, repo)
        self.send_json({})

    def route_tag(self, rtype: str, repo_id: str, name: str) -> None:
        store = self.state.store
        with store.lock:
            repo = self.repo(rtype, repo_id, write=True)
            if self.command == "DELETE":
                if repo["tags"].pop(name, None) is None:
                    raise HubError(404, f"Tag not found: {name}", "RevisionNotFound")
            else:
                tag = self.json_body().get("tag")
                if not tag:
                    raise HubError(400, "missing tag name")
                if tag in repo["tags"]:
                    raise HubError(409, f"Tag already exists: {tag}")
                repo["tags"][tag] = self.resolve_rev(rtype, repo_id, repo, name)
            store.save_repo(rtype, repo_id, repo)
        self.send_json({})


def parse_user(spec: str) -> User:
    """``NAME:TOKEN:ROLE[:ORG1,ORG2]`` -> User (ROLE is read or write)."""
    parts = spec.split(":")
    if len(parts) not in (3, 4) or parts[2] not in ("read", "write"):
        raise argparse.ArgumentTypeError(f"expected NAME:TOKEN:read|write[:ORGS], got {spec!r}")
    orgs = [o for o in parts[3].split(",") if o] if len(parts) == 4 else []
    return User(parts[0], parts[1], parts[2], orgs)


def make_server(root: Path, users: list[User], host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A ready-to-serve server (call ``serve_forever``); its port is ``server.server_address[1]``."""
    handler = type("BoundHandler", (Handler,), {"state": HubState(root, users)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--user", type=parse_user, action="append", default=[], help="NAME:TOKEN:ROLE[:ORGS]")
    parser.add_argument("--users-file", type=Path, help='JSON list of {"name","token","role","orgs"}')
    args = parser.parse_args(argv)
    users = list(args.user)
    if args.users_file:
        users += [
            User(u["name"], u["token"], u["role"], u.get("orgs", []))
            for u in json.loads(args.users_file.read_text())
        ]
    server = make_server(args.root, users, args.host, args.port)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
