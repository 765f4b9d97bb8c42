"""Shared fixtures: the test Hub server and a fresh-process client runner."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HUB_SERVER = Path(__file__).with_name("hub_server.py")


@pytest.fixture(autouse=True)
def no_mixed_precision_leak() -> Iterator[None]:
    """A test's Trainers must not inherit the mixed precision of an earlier test in this process: transformers
    leaves it in ACCELERATE_MIXED_PRECISION and Accelerate keeps it in a process-wide state."""
    yield
    from hubtools.training.arguments import reset_mixed_precision

    reset_mixed_precision()


@pytest.fixture(scope="session")
def finer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``recipes/finer.py --preset tiny`` run folder (trained once per test session, no export)."""
    from recipe_runs import FINER_TEST_ARGS, run_recipe

    out = tmp_path_factory.mktemp("finer") / "run"
    run_recipe("finer", out, "--no-export", *FINER_TEST_ARGS)
    return out


@pytest.fixture(scope="session")
def exported_finer_run(finer_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's finer run, copied, exported to ONNX (with the benchmark) and carded through the CLI.

    The int8 files must be published here, whatever two flipped entities do to the F1 of this barely trained
    model on its ~300 test sentences (a 0.5-point bound refused int8 in one CI run), so the bound is wider;
    test_export checks the default bound and the refusal path."""
    import shutil

    from recipe_runs import ROOT, recipe_env

    run = tmp_path_factory.mktemp("exported") / "run"
    shutil.copytree(finer_run, run)
    for args in (["export", str(run), "--max-f1-drop", "5"], ["card", str(run)], ["check", str(run)]):
        proc = subprocess.run([sys.executable, "-m", "hubtools", *args], env=recipe_env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"hubtools {args[0]}: {proc.stdout}\n{proc.stderr[-3000:]}"
    return run


@dataclass
class HubServer:
    """A running tests/hub_server.py: where it listens, who may use it, and its test routes."""

    endpoint: str
    write_token: str
    read_token: str
    user: str
    org: str
    reader: str
    root: Path
    pid: int

    def _call(self, method: str, route: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.endpoint}{route}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def unknown_routes(self) -> list[str]:
        """Routes the server did not know ("METHOD /path?query"), since it started."""
        return self._call("GET", "/_test/unknown-routes")

    def requests(self) -> list[dict]:
        """The request log: {"method", "path", "status", "user"} per request, test routes excluded."""
        return self._call("GET", "/_test/requests")

    def inject_fault(self, drop: str | None, count: int = 1) -> None:
        """Make the next `count` requests of kind `drop` ("lfs_upload" | "commit", or "commit:TYPE/REPO_ID" for the
        commits to one repo) lose their connection.

        `drop=None` clears every pending fault.
        """
        self._call("POST", "/_test/faults", {"drop": drop, "count": count})


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """Start the test Hub on 127.0.0.1 (ephemeral port) with a writer (alice, org nerhub-org) and a reader."""
    root = tmp_path_factory.mktemp("hub")
    write_token, read_token = f"hf_w{secrets.token_hex(12)}", f"hf_r{secrets.token_hex(12)}"
    cmd = [
        sys.executable,
        str(HUB_SERVER),
        "--port=0",
        f"--root={root / 'storage'}",
        f"--user=alice:{write_token}:write:nerhub-org",
        f"--user=bob:{read_token}:read",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"hub_server did not start: {line!r}")
    server = HubServer(
        endpoint=f"http://127.0.0.1:{int(line.split()[1])}",
        write_token=write_token,
        read_token=read_token,
        user="alice",
        org="nerhub-org",
        reader="bob",
        root=root,
        pid=proc.pid,
    )
    try:
        yield server
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def hub_default_endpoint(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this process's huggingface_hub default endpoint at the test Hub, as HF_ENDPOINT would.

    huggingface_hub < 1.0 parses the commit URL of `create_commit` with its default endpoint, so in-process
    commits need it to match even when `HfApi(endpoint=...)` is given.
    """
    from huggingface_hub import constants, file_download

    template = hub_server.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "ENDPOINT", hub_server.endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(file_download, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    return hub_server.endpoint


def client_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    """Environment for a fresh client process: the Hub is `endpoint`, caches live under `home`, no token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home / "hf_home"),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_DATASETS_CACHE=str(home / "datasets_cache"),
        TOKENIZERS_PARALLELISM="false",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    env.update(extra)
    return env


def run_client(code: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run Python `code` in a fresh process (HF_ENDPOINT is read at import); returns the finished process."""
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
