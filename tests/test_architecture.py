"""The architecture's rules, measured with ``hubtools/architecture.py``: no generic module imports a family package,
no first-party import sits inside a function, no import cycle between packages, and every family has the same
modules. Each rule keeps a ``KNOWN_*`` set of accepted violations (keys without line numbers), empty since the
families moved into ``hubtools/families/`` (issue 30): a violation outside its set fails, and so does a listed one
that no longer occurs. Imports of third-party libraries inside functions (span_marker, optimum, onnxruntime,
matplotlib, ...) are allowed.

Deferred loading is not a violation but a design choice, so it is listed with its reason: ``LAZY_IMPORTS`` (a
first-party import inside a function) and ``DYNAMIC_IMPORTS`` (``importlib.import_module``). Neither may close an
import cycle: the package graph counting them is acyclic too.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from hubtools import architecture
from hubtools.architecture import Report
from hubtools.families import FAMILIES
from tests.recipe_runs import load_module

ROOT = Path(__file__).resolve().parents[1]
THIS = "tests/test_architecture.py"

# "FILE -> imported family module"
KNOWN_GENERIC_FAMILY_IMPORTS: set[str] = set()

# "FILE FUNCTION() -> imported hubtools module"
KNOWN_FUNCTION_IMPORTS: set[str] = set()

# "FILE FUNCTION() -> imported hubtools module": imports deferred on purpose, with the reason
LAZY_IMPORTS: dict[str, str] = {
    "hubtools/cli.py main() -> hubtools.commands": "`hubtools --help` and a wrong argument answer in a tenth of a "
    "second; the commands load the library (seconds) only once the arguments are valid",
}

# "FILE FUNCTION()": importlib.import_module calls, with the reason
DYNAMIC_IMPORTS: dict[str, str] = {
    "hubtools/__init__.py __getattr__()": "PEP 562: `hubtools.Run` / `hubtools.train` load hubtools.api and the "
    "training stack on first use, so `import hubtools` stays light",
    "hubtools/families/__init__.py Family.module()": "the registry: a family's pieces load when generic code asks "
    "for them, by the family's name",
}

# "package -> package": the module-level import edges inside a cycle (none today: the imports that would close
# cycles sit inside functions, in KNOWN_FUNCTION_IMPORTS; the move added export <-> token_classification)
KNOWN_CYCLE_EDGES: set[str] = set()


def check_known(found: set[str], known: set[str], name: str, rule: str) -> None:
    new, gone = sorted(found - known), sorted(known - found)
    problems = []
    if new:
        problems.append(f"{rule}, {len(new)} new: " + "; ".join(new) + f" (fix them: {name} lists the violations "
                        "of before the move and can only shrink)")
    if gone:
        problems.append(f"{len(gone)} listed in {name} no longer occur: " + "; ".join(gone) +
                        f" (remove them from {name} in {THIS})")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def report() -> Report:
    return Report.of(ROOT)


def test_no_generic_module_imports_a_family(report):
    found = {f"{i.path} -> {i.target}" for i in report.generic_family_imports}
    check_known(found, KNOWN_GENERIC_FAMILY_IMPORTS, "KNOWN_GENERIC_FAMILY_IMPORTS",
                "generic modules import a family package (use the registry)")


def test_no_first_party_import_inside_a_function(report):
    found = {f"{i.path} {i.function}() -> {i.target}" for i in report.function_imports["first-party"]}
    check_known(found - set(LAZY_IMPORTS), KNOWN_FUNCTION_IMPORTS, "KNOWN_FUNCTION_IMPORTS",
                "hubtools imports inside functions")
    gone = set(LAZY_IMPORTS) - found
    assert not gone, f"LAZY_IMPORTS lists imports that no longer occur: {sorted(gone)}"


def test_imports_by_name_are_the_listed_ones(report):
    found = {f"{d.path} {d.function}()" for d in report.dynamic_imports}
    new, gone = sorted(found - set(DYNAMIC_IMPORTS)), sorted(set(DYNAMIC_IMPORTS) - found)
    assert not new and not gone, (f"importlib.import_module calls: new {new}, gone {gone} (list them in "
                                  "DYNAMIC_IMPORTS with the reason, or import at module level)")


def test_no_deferred_import_closes_a_cycle(report):
    assert not report.hidden_cycles, [c["cycles"][0] for c in report.hidden_cycles]


def test_no_import_cycle_between_packages(report):
    found = {edge for component in report.cycles for edge in component["edges"]}
    check_known(found, KNOWN_CYCLE_EDGES, "KNOWN_CYCLE_EDGES", "package-level import cycles "
                f"({'; '.join(' -> '.join(c['cycles'][0]) for c in report.cycles)})")


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


def test_the_analysis_on_a_tree_with_the_families_package(tmp_path):
    """The new layout: families found under hubtools/families/, the registry not generic, relative and
    type-checking imports resolved, cycles found, results.json writers and imports by name located."""
    _write(tmp_path, {
        "hubtools/__init__.py": "",
        "hubtools/families/__init__.py": "from hubtools.families.rnn_tagger import model\n",
        "hubtools/families/rnn_tagger/__init__.py": "",
        "hubtools/families/rnn_tagger/model.py": "from ...tagging import tag\n",
        "hubtools/families/span_marker/__init__.py": "",
        "hubtools/families/span_marker/export.py": "",
        "hubtools/tagging.py": """\
            from typing import TYPE_CHECKING
            from hubtools.families import span_marker
            if TYPE_CHECKING:
                from hubtools.families.rnn_tagger import model
            def tag():
                import json
                import numpy
                from .families.rnn_tagger import model
            class Tagger:
                from hubtools import run
            """,
        "hubtools/run.py": """\
            import json
            from pathlib import Path
            RESULTS_FILE = "results.json"
            def save(folder, data):
                path = Path(folder) / RESULTS_FILE
                with open(path, "w") as f:
                    json.dump(data, f)
                (Path(folder) / "other.json").write_text("{}")
            def keep(folder, results):
                folder.write_results(results)
            """,
        "hubtools/data/__init__.py": "from hubtools.data.reading import x\n",
        "hubtools/data/reading.py": """\
            import importlib
            from hubtools.tagging import tag
            def plugin(name):
                return importlib.import_module(name)
            """,
    })
    report = Report.of(tmp_path)
    assert report.tree.layout == "hubtools/families/"
    assert report.family_files == {"rnn_tagger": ["__init__.py", "model.py"], "span_marker": ["__init__.py",
                                                                                             "export.py"]}
    assert [(i.path, i.line, i.target, i.scope) for i in report.generic_family_imports] == [
        ("hubtools/tagging.py", 2, "hubtools.families.span_marker", "module"),
        ("hubtools/tagging.py", 4, "hubtools.families.rnn_tagger.model", "type-checking"),
        ("hubtools/tagging.py", 8, "hubtools.families.rnn_tagger.model", "function")]
    inside = report.function_imports
    assert [i.target for i in inside["first-party"]] == ["hubtools.families.rnn_tagger.model"]
    assert [i.target for i in inside["third-party"]] == ["numpy"]
    assert [i.target for i in inside["standard library"]] == ["json"]
    # tagging -> families.span_marker only; rnn_tagger -> tagging; families (the registry) -> rnn_tagger
    assert report.graph["hubtools.tagging"] == {"hubtools.families.span_marker", "hubtools.run"}
    assert report.cycles == []
    assert [c["members"] for c in report.hidden_cycles] == [["hubtools.families.rnn_tagger", "hubtools.tagging"]]
    assert architecture.results_writers(report.tree) == [
        architecture.Write("hubtools/run.py", 7, "save", "json.dump"),
        architecture.Write("hubtools/run.py", 10, "keep", "write_results")]
    assert report.dynamic_imports == [
        architecture.Write("hubtools/data/reading.py", 4, "plugin", "importlib.import_module(name)")]
    nodes, edges = architecture.collapsed_graph(tmp_path)
    assert "families.rnn_tagger" in nodes and ("data", "tagging") in edges
    assert edges[("tagging", "families.rnn_tagger")] is False  # only inside a function
    assert "  tagging -.-> families_rnn_tagger" in architecture.mermaid(tmp_path)

    _write(tmp_path, {"hubtools/tagging.py": "from hubtools.data import reading\n"})
    (component,) = Report.of(tmp_path).cycles
    assert component["members"] == ["hubtools.data", "hubtools.tagging"]
    assert component["edges"] == ["hubtools.data -> hubtools.tagging", "hubtools.tagging -> hubtools.data"]
    assert component["cycles"] == [["hubtools.data", "hubtools.tagging", "hubtools.data"]]


def test_the_report_script_prints_text_json_and_mermaid(capsys, tmp_path):
    script = load_module("scripts/architecture_report.py")
    script.main(["--json"])  # this checkout
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == str(ROOT) and set(data["families"]) >= {"distillation"}
    assert len(data["longest_functions"]) == 10
    assert data["function_imports"]["counts"]["first-party"] == len(data["function_imports"]["first_party"])
    _write(tmp_path, {"hubtools/__init__.py": "", "hubtools/cli.py": "from hubtools import errors\n",
                      "hubtools/errors.py": "", "hubtools/rnn/__init__.py": "from hubtools.cli import main\n"})
    script.main(["--root", str(tmp_path)])
    text = capsys.readouterr().out
    assert "families: old locations" in text and "  rnn " in text
    assert "imports from generic code into a family: 0" in text and "places that write results.json: 0" in text
    script.main(["--root", str(tmp_path), "--mermaid"])
    assert capsys.readouterr().out == ('graph LR\n  cli["cli"]\n  errors["errors"]\n  families_rnn["families.rnn"]\n'
                                       '  hubtools["hubtools"]\n  cli --> errors\n  families_rnn --> cli\n')


FAMILY_MODULES = ("options", "model", "features", "trainer", "export", "decode", "recipe")


def test_every_family_has_the_same_shape_and_is_registered():
    """Each family package holds the same modules and names the pieces the registry hands to generic code."""
    packages = {p.name for p in (ROOT / "hubtools" / "families").iterdir() if (p / "__init__.py").is_file()}
    assert {f.package.rsplit(".", 1)[1] for f in FAMILIES.values()} == packages
    for family in FAMILIES.values():
        folder = ROOT / "hubtools" / "families" / family.package.rsplit(".", 1)[1]
        assert not [m for m in FAMILY_MODULES if not (folder / f"{m}.py").is_file()], family.name
        assert family.recipe.__module__ == f"{family.package}.recipe"
        assert family.options_class is family.recipe.options_class, family.name
        assert family.exporter.__name__.endswith("Exporter") and family.decoder.__name__.endswith("Decoder")
        assert family.model_options_class.__module__.startswith("hubtools.families.")
        assert (ROOT / "cards" / family.card_usage).is_file(), family.name


def test_only_the_families_card_templates_name_a_family():
    """The shared card templates branch on recorded facts (library, remote code, export), not on a family: a
    family's snippets are its own template (``card_usage``)."""
    own = {family.card_usage for family in FAMILIES.values()}
    naming = re.compile(r'library_name\s*[!=]=\s*"span-marker"|model\.family|hubtools\.families')
    shared = sorted(p for p in (ROOT / "cards").rglob("*.j2") if p.name not in own)
    assert len(shared) >= 10
    assert [p.name for p in shared if naming.search(p.read_text(encoding="utf-8"))] == []
