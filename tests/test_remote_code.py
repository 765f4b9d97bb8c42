"""No code of a model folder runs unless the user passes ``--trust-remote-code``: this project's RNN taggers load
with the installed classes (a planted code file never runs), a foreign ``auto_map`` is refused in one line, and
the flag runs the folder's own code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from recipe_runs import recipe_env
from tiny_ner import save_tiny_model, save_tiny_rnn_tagger

from hubtools.families.rnn_tagger.model import AUTO_MAP as OWN_AUTO_MAP
from hubtools.remote_code import changed_code_files, check_code, code_note, own_code

MARKER_CODE = "import pathlib, os\npathlib.Path(os.environ['PLANTED_MARKER']).write_text('ran')\n"


def plant(folder: Path, name: str, rest: str) -> None:
    """Write ``folder/name``: code that creates the marker file when imported, then ``rest``."""
    (folder / name).write_text(MARKER_CODE + rest, encoding="utf-8")


def hubtools(*args: str, marker: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = recipe_env(PLANTED_MARKER=str(marker), HF_MODULES_CACHE=str(tmp_path / "modules"))
    return subprocess.run([sys.executable, "-m", "hubtools", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def rnn_folder(tmp_path_factory) -> Path:
    """A tiny RNN tagger folder whose modeling_rnn_tagger.py also writes a file when imported."""
    folder = save_tiny_rnn_tagger(tmp_path_factory.mktemp("rnn") / "model")
    plant(folder, "modeling_rnn_tagger.py", (folder / "modeling_rnn_tagger.py").read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module")
def foreign_folder(tmp_path_factory) -> Path:
    """A transformers model folder whose config.json maps the model to its own ``planted.py``."""
    folder = save_tiny_model(tmp_path_factory.mktemp("foreign") / "model")
    plant(folder, "planted.py", "from transformers import DistilBertForTokenClassification as PlantedModel\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForTokenClassification": "planted.PlantedModel"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def text(tmp_path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("Alice Smith lives in Paris\n")
    return path


def test_the_rules_read_config_json(rnn_folder, tmp_path):
    assert own_code({"model_type": "rnn-tagger", "auto_map": OWN_AUTO_MAP})
    assert not own_code({"model_type": "rnn-tagger", "auto_map": {**OWN_AUTO_MAP, "AutoTokenizer": "x.Y"}})
    check_code({"model_type": "rnn-tagger", "auto_map": OWN_AUTO_MAP}, "M", trusted=False)
    with pytest.raises(Exception, match=r"M: the model runs code of its own .*planted\.py.*--trust-remote-code"):
        check_code({"auto_map": {"AutoModel": "planted.X"}}, "M", trusted=False)
    assert changed_code_files(rnn_folder) == ["modeling_rnn_tagger.py"]
    clean = save_tiny_rnn_tagger(tmp_path / "clean")
    assert changed_code_files(clean) == [] and code_note(clean, "M", "0.1.0") is None
    assert "made with hubtools 0.0.9" in code_note(rnn_folder, "M", "0.0.9")


@pytest.mark.slow
def test_an_rnn_tagger_folder_runs_none_of_its_code_without_the_flag(rnn_folder, text, tmp_path):
    marker, out = tmp_path / "planted-ran", tmp_path / "out.jsonl"
    proc = hubtools("predict", str(rnn_folder), "--text", str(text), "--output", str(out), "--variant", "pytorch",
                    marker=marker, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists() and len(json.loads(out.read_text())["tags"]) == 5
    assert "its code (modeling_rnn_tagger.py) is not the installed hubtools" in proc.stderr
    assert "--trust-remote-code runs the folder's own code instead" in proc.stderr

    proc = hubtools("predict", str(rnn_folder), "--text", str(text), "--output", str(out), "--variant", "pytorch",
                    "--trust-remote-code", marker=marker, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "ran"


@pytest.mark.slow
def test_foreign_code_is_refused_in_one_line_and_runs_with_the_flag(foreign_folder, text, tmp_path):
    marker, out = tmp_path / "planted-ran", tmp_path / "out.jsonl"
    proc = hubtools("evaluate", str(foreign_folder), "--data", "generate:conll2003", marker=marker, tmp_path=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"hubtools evaluate: error: RUN_OR_REPO {str(foreign_folder)!r}: the model runs code of its own folder or "
        "repo (config.json auto_map: planted.py); pass --trust-remote-code to run it")
    assert not marker.exists()

    proc = hubtools("predict", str(foreign_folder), "--text", str(text), "--output", str(out), "--variant",
                    "pytorch", "--trust-remote-code", marker=marker, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "ran" and out.is_file()

