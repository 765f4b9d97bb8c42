"""Every error a user can cause is one line ``PROG: error: MESSAGE`` with exit status 2 and no traceback, at both
entry points (``hubtools``, the recipes), in a fresh process: a model id that does not resolve (offline, or an
endpoint that does not answer), an ``--output`` that is a folder or cannot be written, a dataset configuration
that does not exist, a full disk; Ctrl-C exits 130 and keeps the staged work; bugs keep their traceback."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from conftest import client_env
from recipe_runs import ROOT, recipe_env

from hubtools.data.loading import load_hub
from hubtools.errors import EXIT_INTERRUPTED, DataError, about, run_reporting_errors, user_error


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=recipe_env(**env), cwd=ROOT,
                          timeout=300)


def one_line_error(proc: subprocess.CompletedProcess, prog: str) -> str:
    """The message of the single error line ``proc`` ended with, after checking status 2 and no traceback."""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: error: "), proc.stderr
    return last.removeprefix(f"{prog}: error: ")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_mistyped_model_of_a_recipe(tmp_path):
    proc = run(["recipes/ner.py", "--preset", "tiny", "--output-dir", str(tmp_path / "run"), "--no-export",
                "data.generate.num_sentences=60", "model.name_or_path=nonexistent/model", "model.from_scratch=null"])
    assert one_line_error(proc, "ner.py") == (
        "model.name_or_path 'nonexistent/model': not a local folder, and not in the Hub cache (HF_HUB_OFFLINE is set)")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_model_id_offline_and_an_endpoint_that_does_not_answer(tmp_path):
    message = one_line_error(run(["-m", "hubtools", "evaluate", "nonexistent/model"]), "hubtools evaluate")
    assert message == "RUN_OR_REPO 'nonexistent/model': not a local folder, and not in the Hub cache " \
                      "(HF_HUB_OFFLINE is set)"
    port = closed_port()
    proc = run(["-m", "hubtools", "evaluate", "nonexistent/model"], HF_HUB_OFFLINE="0",
               HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(tmp_path / "hf"))
    message = one_line_error(proc, "hubtools evaluate")
    assert message.startswith(f"RUN_OR_REPO 'nonexistent/model': cannot reach http://127.0.0.1:{port}/") \
        and "Connection refused" in message


@pytest.mark.slow
def test_a_repo_the_hub_does_not_have(hub_server, tmp_path):
    env = client_env(hub_server.endpoint, tmp_path, HF_TOKEN=hub_server.read_token)
    proc = subprocess.run([sys.executable, "-m", "hubtools", "predict", f"{hub_server.user}/no-such-model", "--text",
                           str(tmp_path), "--output", str(tmp_path / "out.jsonl")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert one_line_error(proc, "hubtools predict") == (
        f"RUN_OR_REPO '{hub_server.user}/no-such-model': no such Hub repo, or HF_TOKEN gives no access to it")


@pytest.mark.slow
def test_an_output_that_is_a_folder_or_cannot_be_written(tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Alice lives in Paris\n")
    cases = {str(tmp_path): f"--output {tmp_path}: a folder; give the name of the file to write",
             str(text / "out.jsonl"): f"--output {text / 'out.jsonl'}: {text} is a file, not a folder",
             "/proc/nerhub/out.jsonl": "--output /proc/nerhub/out.jsonl: cannot write in /proc ("}
    for output, expected in cases.items():
        proc = run(["-m", "hubtools", "predict", "nonexistent/model", "--text", str(text), "--output", output])
        assert one_line_error(proc, "hubtools predict").startswith(expected)
    proc = run(["-m", "hubtools", "evaluate", "nonexistent/model", "--output", str(tmp_path)])
    assert one_line_error(proc, "hubtools evaluate") == f"--output {tmp_path}: a folder; give the name of the file " \
                                                        "to write"


def test_a_dataset_configuration_that_does_not_exist(tmp_path):
    """A Hub-style dataset (configurations in its card) read by ``datasets.load_dataset``, which raises a
    ValueError for a configuration it lacks or a missing one."""
    for name in ("en", "uk"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.jsonl").write_text('{"tokens": ["Kyiv"], "ner_tags": ["B-LOC"]}\n')
    (tmp_path / "README.md").write_text("---\nconfigs:\n- config_name: en\n  data_files: en/train.jsonl\n"
                                        "- config_name: uk\n  data_files: uk/train.jsonl\n---\n")
    with pytest.raises(DataError) as err:
        load_hub(str(tmp_path), name="fr")
    assert str(err.value) == f"data.config_name 'fr': {tmp_path} has no such configuration (its configurations: en, uk)"
    with pytest.raises(DataError, match=r"data.config_name: .* has several configurations; choose one \(its "
                                        r"configurations: en, uk\)"):
        load_hub(str(tmp_path))


def reported(main, capsys, **kwargs) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors("prog", main, **kwargs)
    return exit_.value.code, capsys.readouterr().err


def test_a_full_disk_names_the_folder(tmp_path, capsys):
    def full(filename=None):
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    status, err = reported(lambda: full(str(tmp_path / "run.partial" / "model" / "model.safetensors")), capsys)
    assert status == 2 and err == f"prog: error: no space left on the device (writing in {tmp_path}/run.partial/" \
                                  "model)\n"
    staging = tmp_path / "run.partial"
    status, err = reported(full, capsys, staging=lambda: staging)
    assert status == 2 and err == (f"prog: error: no space left on the device (writing in {staging}); the staged "
                                   f"work in {staging} is kept: free space and rerun the same command\n")


def test_the_argument_is_named_and_bugs_keep_their_traceback(capsys, monkeypatch):
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import hf_raise_for_status, validate_repo_id

    def bad_id():
        with about("--model 'a b'"):
            validate_repo_id("a b")

    assert reported(bad_id, capsys)[1].startswith("prog: error: --model 'a b': not a local folder, and not a valid "
                                                  "Hub repo id (Repo id must use alphanumeric")
    response = requests.models.Response()
    response.status_code, response.url = 503, "http://127.0.0.1/api/models/org/name"
    with pytest.raises(HfHubHTTPError) as refused:
        hf_raise_for_status(response)
    assert user_error(refused.value).startswith("the Hub refused the request (503 Server Error")
    with pytest.raises(ZeroDivisionError):
        run_reporting_errors("prog", lambda: 1 / 0)
    assert user_error(ValueError("a bug")) is None
    monkeypatch.setenv("HUBTOOLS_DEBUG", "1")
    status, err = reported(bad_id, capsys)
    assert status == 2 and "Traceback" in err and err.splitlines()[-1].startswith("prog: error: --model 'a b'")
    status, err = reported(lambda: (_ for _ in ()).throw(KeyboardInterrupt), capsys)
    assert status == EXIT_INTERRUPTED and err.splitlines()[-1] == "prog: error: interrupted"


@pytest.mark.slow
def test_ctrl_c_keeps_the_staged_work(tmp_path):
    """SIGINT to a recipe once its first checkpoint is saved: status 130, one line naming the staging folder."""
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    cmd = [sys.executable, "recipes/ner.py", "--preset", "tiny", "--output-dir", str(out), "--no-export",
           "data.generate.num_sentences=400", "training.num_train_epochs=30"]
    with log.open("w") as stderr:
        # Ctrl-C as a terminal sends it: a suite started in the background (`pytest &`) has SIGINT ignored, and the
        # recipe would inherit that
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=recipe_env(), cwd=ROOT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        partial = out.with_name("run.partial")
        deadline = time.monotonic() + 240
        while not list(partial.glob("checkpoints/checkpoint-*")) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=120)
    text = log.read_text()
    assert status == EXIT_INTERRUPTED and "Traceback" not in text, text
    errors = [line[line.index("ner.py: error: "):] for line in text.splitlines() if "ner.py: error: " in line]
    assert errors == [f"ner.py: error: interrupted; the staged work is kept in {partial}: rerun the same command to "
                      "resume"]  # after the cursor codes of the progress bars it ends
    assert list(partial.glob("checkpoints/checkpoint-*")) and not out.exists()
