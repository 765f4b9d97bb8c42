"""The package's shape, checked: one errors module, no import cycle between configuration and data, light
modules that stay light, every subpackage shipped, and a wheel (not an editable checkout) that renders cards."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hubtools"


def imports(path: Path) -> set[str]:
    """The hubtools modules a file imports at run time (imports under ``if TYPE_CHECKING:`` excluded)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hubtools"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("hubtools")}
    return found


def test_configuration_and_data_never_import_each_other():
    assert not {m for m in imports(PACKAGE / "config.py") if m.startswith("hubtools.data")}
    for path in (PACKAGE / "data").glob("*.py"):
        assert "hubtools.config" not in imports(path), path


def test_every_exception_class_lives_in_errors():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py":
            continue
        classes = [node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)
                   and any(getattr(base, "id", "").endswith(("Error", "Exception")) for base in node.bases)]
        assert not classes, f"{path}: exception classes {classes} belong in hubtools/errors.py"


def test_light_modules_do_not_import_torch():
    """results.json readers and the benchmark's ONNX worker start without torch."""
    code = ("import sys, hubtools.results, hubtools.config, hubtools.export.worker,"
            "hubtools.families.span_marker.reference;"
            "print(sorted(m for m in ('torch', 'transformers', 'span_marker') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_every_subpackage_is_shipped():
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(),
                                                     re.S | re.M).group(1)))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found | {"hubtools.cards.templates"} == listed


@pytest.mark.slow
def test_a_wheel_install_renders_cards_with_its_own_templates(finer_run, tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheel_dir.glob("nerhub-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finer_run), str(run)], check=True)
    (run / "model" / "README.md").unlink()
    code = ("import hubtools, sys; from hubtools.cards import render_cards; from hubtools.cards.render import "
            "default_templates; render_cards(sys.argv[1]); print(hubtools.__file__); print(default_templates())")
    out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    module, templates = out.stdout.strip().splitlines()[-2:]
    assert module.startswith(str(target)) and templates == str(target / "hubtools" / "cards" / "templates")
    assert (run / "model" / "README.md").read_text().startswith("---\nlanguage:")
