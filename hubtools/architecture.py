"""The package's architecture, measured from its source: the family packages, imports from generic code into a
family, imports inside functions, package-level import cycles, the longest functions, the places that write
results.json, and the package dependency graph.

Standard library only: every file is read with :mod:`ast`, nothing of the analysed tree is imported, so any checkout
can be measured (``scripts/architecture_report.py --root PATH``). ``tests/test_architecture.py`` enforces the rules
and ``hubtools/docs.py`` puts :func:`graph_text` into ``docs/architecture.md`` when the site is built.

Terms:

- a *family package* is a subpackage of ``hubtools/families/`` when that folder is a package, else one of the
  locations the families had before (``OLD_FAMILIES``);
- *generic* code is every ``hubtools`` module outside the family packages and outside the registry
  (``hubtools/families/__init__.py``, before that ``hubtools/families.py``, which names families by string);
- a module's *package* (a node of the package graph) is its dotted parent; a package's ``__init__`` and the
  top-level modules (``hubtools.tagging``) are their own node;
- the package graph has an edge per module-level run-time import (imports under ``if TYPE_CHECKING:`` excluded).
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "hubtools"
OLD_FAMILIES = ("token_classification", "distillation", "spanmarker", "rnn")
REGISTRIES = ("hubtools/families/__init__.py", "hubtools/families.py")
COLLAPSED = ("data", "cards", "export", "training", "recipe")  # subpackages drawn as one node of the graph
RESULTS_FILE = "results.json"
WRITER_SOURCES = ("hubtools", "recipes", "scripts")  # folders searched for places that write results.json
FILE_WRITES = ("write_text", "write_json", "atomic_write_text")  # plus json.dump


@dataclass(frozen=True)
class Module:
    """One ``.py`` file of the package."""

    name: str  # dotted: hubtools.rnn.export; a package's __init__ is the package's name
    path: str  # relative to the root, POSIX
    is_package: bool
    tree: ast.Module = field(compare=False, repr=False)


@dataclass(frozen=True)
class Import:
    """One imported module: ``from a import b`` names ``a.b`` when that is a module of the package, else ``a``."""

    path: str
    line: int
    importer: str
    target: str
    function: str | None  # qualified name of the enclosing function, None at module level (class bodies included)
    type_checking: bool  # under ``if TYPE_CHECKING:``

    @property
    def first_party(self) -> bool:
        return self.target == PACKAGE or self.target.startswith(PACKAGE + ".")

    @property
    def stdlib(self) -> bool:
        return self.target.split(".")[0] in sys.stdlib_module_names

    @property
    def scope(self) -> str:
        return "type-checking" if self.type_checking else "function" if self.function else "module"


@dataclass(frozen=True)
class Function:
    path: str
    line: int
    name: str  # qualified: Class.method, outer.inner
    lines: int


@dataclass(frozen=True)
class Write:
    """A place that writes results.json: a ``write_results`` call, or a file write whose file mentions it."""

    path: str
    line: int
    function: str | None
    call: str


@dataclass
class Tree:
    """The parsed package of one checkout."""

    root: Path
    modules: dict[str, Module]
    families: dict[str, str]  # family name -> package (hubtools.families.rnn_tagger, before: hubtools.rnn)
    layout: str  # "hubtools/families/" or "old locations"

    def family_of(self, module: str) -> str | None:
        return next((name for name, pkg in self.families.items()
                     if module == pkg or module.startswith(pkg + ".")), None)

    def is_generic(self, module: Module) -> bool:
        return self.family_of(module.name) is None and module.path not in REGISTRIES


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def load_tree(root: str | Path) -> Tree:
    """Parse every module of ``ROOT/hubtools`` and find the family packages."""
    root = Path(root).resolve()
    modules = {}
    for path in _python_files(root / PACKAGE):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path.relative_to(root).as_posix(), is_package,
                               ast.parse(path.read_text(encoding="utf-8"), str(path)))
    if f"{PACKAGE}.families" in modules and modules[f"{PACKAGE}.families"].is_package:
        families = {p.parent.name: f"{PACKAGE}.families.{p.parent.name}"
                    for p in sorted((root / PACKAGE / "families").glob("*/__init__.py"))}
        layout = "hubtools/families/"
    else:
        families = {name: f"{PACKAGE}.{name}" for name in OLD_FAMILIES if f"{PACKAGE}.{name}" in modules}
        layout = "old locations"
    return Tree(root, modules, families, layout)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _scoped(tree: ast.AST) -> Iterator[tuple[ast.AST, str | None, bool]]:
    """Every node below ``tree`` with its enclosing function's qualified name and whether it sits under
    ``if TYPE_CHECKING:`` (in no particular order)."""
    stack: list[tuple[ast.AST, tuple[str, ...], str | None, bool]] = [(tree, (), None, False)]
    while stack:
        node, names, function, type_checking = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            parts = [(child, True) for child in node.body] + [(child, type_checking) for child in node.orelse]
        else:
            parts = [(child, type_checking) for child in ast.iter_child_nodes(node)]
        for child, child_type_checking in parts:
            yield child, function, child_type_checking
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = (*names, child.name)
                stack.append((child, inner, ".".join(inner), child_type_checking))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, (*names, child.name), function, child_type_checking))
            else:
                stack.append((child, names, function, child_type_checking))


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    parts = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(tree: Tree) -> list[Import]:
    """Every import statement of the package, one entry per imported module."""
    found = []
    for module in tree.modules.values():
        for node, function, type_checking in _scoped(module.tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                targets = list(dict.fromkeys(f"{base}.{alias.name}" if f"{base}.{alias.name}" in tree.modules
                                             else base for alias in node.names))
            else:
                continue
            found += [Import(module.path, node.lineno, module.name, target, function, type_checking)
                      for target in targets]
    return sorted(found, key=lambda i: (i.path, i.line, i.target))


def generic_family_imports(tree: Tree, found: list[Import] | None = None) -> list[Import]:
    """Imports from generic code into a family package (at module level, in functions and for type checking)."""
    generic = {m.name for m in tree.modules.values() if tree.is_generic(m)}
    return [i for i in (found if found is not None else imports(tree))
            if i.importer in generic and tree.family_of(i.target)]


def function_imports(tree: Tree, found: list[Import] | None = None) -> dict[str, list[Import]]:
    """Imports inside functions: ``first-party`` (hubtools, relative ones included), ``standard library`` and
    ``third-party``."""
    inside = [i for i in (found if found is not None else imports(tree)) if i.function]
    return {"first-party": [i for i in inside if i.first_party],
            "third-party": [i for i in inside if not i.first_party and not i.stdlib],
            "standard library": [i for i in inside if not i.first_party and i.stdlib]}


def node_of(tree: Tree, module: str) -> str:
    """A module's node of the package graph: its dotted parent; a package and a top-level module are their own."""
    if module in tree.modules and tree.modules[module].is_package:
        return module
    parent = module.rpartition(".")[0]
    return module if parent in ("", PACKAGE) else parent


def package_graph(tree: Tree, found: list[Import] | None = None, functions: bool = False) -> dict[str, set[str]]:
    """Package -> the packages its modules import at module level, at run time (self-edges dropped); with
    ``functions`` the imports inside functions count too (the cycles they hide)."""
    graph: dict[str, set[str]] = {node_of(tree, name): set() for name in tree.modules}
    for i in found if found is not None else imports(tree):
        if i.first_party and (functions or not i.function) and not i.type_checking:
            source, target = node_of(tree, i.importer), node_of(tree, i.target)
            if source != target:
                graph[source].add(target)
                graph.setdefault(target, set())
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node, each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components, key=lambda c: (-len(c), c))


def shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself through ``within`` (``[start, ..., start]``)."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph.get(node, ())):
            if succ not in within:
                continue
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if succ not in parents:
                parents[succ] = node
                queue.append(succ)
    return []


def cycles(graph: dict[str, set[str]]) -> list[dict]:
    """Each strongly connected component: its members, the edges inside it and the shortest cycle through each
    member (rotations of one cycle listed once)."""
    out = []
    for component in strongly_connected(graph):
        members = set(component)
        paths: list[list[str]] = []
        for node in component:
            path = shortest_cycle(graph, node, members)
            if not any(set(zip(path, path[1:])) == set(zip(p, p[1:])) for p in paths):
                paths.append(path)
        out.append({"members": component, "cycles": paths,
                    "edges": sorted(f"{a} -> {b}" for a in component for b in graph[a] if b in members)})
    return out


def _functions(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every function and method below ``tree`` with its qualified name (``Class.method``, ``outer.inner``)."""
    stack: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while stack:
        node, names = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = (*names, child.name)
                if not isinstance(child, ast.ClassDef):
                    yield child, ".".join(inner)
                stack.append((child, inner))
            else:
                stack.append((child, names))


def longest_functions(tree: Tree, count: int = 10) -> list[Function]:
    """The ``count`` longest functions and methods (lines from ``def`` to the last line of the body)."""
    functions = [Function(module.path, node.lineno, name, node.end_lineno - node.lineno + 1)
                 for module in tree.modules.values() for node, name in _functions(module.tree)]
    return sorted(functions, key=lambda f: (-f.lines, f.path, f.line))[:count]


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    """The nodes of a function's body, those of nested functions and classes excluded."""
    own, stack = [], list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        own.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    return own


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"json.{func.attr}" if isinstance(func.value, ast.Name) and func.value.id == "json" else func.attr
    return ""


def dynamic_imports(tree: Tree) -> list[Write]:
    """Calls to ``importlib.import_module`` (or a bare ``import_module``): imports by name at run time, which the
    import statements above do not show (``call`` is the call's source text)."""
    found = []
    for module in tree.modules.values():
        for node, function, _ in _scoped(module.tree):
            if isinstance(node, ast.Call) and _call_name(node) == "import_module":
                found.append(Write(module.path, node.lineno, function, ast.unparse(node)))
    return sorted(found, key=lambda w: (w.path, w.line))


def results_writers(tree: Tree) -> list[Write]:
    """Calls to ``write_results``, and ``json.dump`` / ``write_text`` (and the run folder's ``write_json`` /
    ``atomic_write_text``) whose file expression mentions results.json in the same function: the literal, a
    module constant equal to it (``RESULTS_FILE``) or a local name assigned from either. Searched in
    ``WRITER_SOURCES``."""
    root = tree.root
    files = [p for folder in WRITER_SOURCES if folder != PACKAGE for p in _python_files(root / folder)]
    parsed = {root / m.path: m.tree for m in tree.modules.values()}
    parsed |= {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}
    constants = {target.id for tree in parsed.values() for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and node.value.value == RESULTS_FILE
                 for target in node.targets if isinstance(target, ast.Name)}
    found = []
    for path, tree in parsed.items():
        rel = path.relative_to(root).as_posix()
        for node, function, _ in _scoped(tree):
            if isinstance(node, ast.Call) and _call_name(node) == "write_results":
                found.append(Write(rel, node.lineno, function, "write_results"))
        for function, qualname in _functions(tree):
            found += [Write(rel, call.lineno, qualname, name) for call, name in _file_writes(function, constants)]
    return sorted(set(found), key=lambda w: (w.path, w.line))


def _file_writes(function: ast.AST, constants: set[str]) -> Iterator[tuple[ast.Call, str]]:
    """The file writes of one function whose file expression mentions results.json."""
    own = list(_own_nodes(function))
    tainted: set[str] = set()

    def mentions(expr: ast.AST | None) -> bool:
        return expr is not None and any(
            (isinstance(n, ast.Constant) and isinstance(n.value, str) and RESULTS_FILE in n.value)
            or (isinstance(n, ast.Name) and (n.id in constants or n.id in tainted))
            or (isinstance(n, ast.Attribute) and n.attr in constants) for n in ast.walk(expr))

    bindings = []  # (names bound, the expression they are bound to)
    for node in own:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bindings.append(({n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}, node.value))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bindings.append(({n.id for n in ast.walk(node.optional_vars) if isinstance(n, ast.Name)},
                             node.context_expr))
    changed = True
    while changed:
        changed = False
        for names, value in bindings:
            if not names <= tainted and mentions(value):
                tainted |= names
                changed = True
    for node in own:
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name == "json.dump":
            file = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "fp"),
                                                                None)
        elif name == "write_text" and isinstance(node.func, ast.Attribute):
            file = node.func.value  # path.write_text(text)
        elif name in FILE_WRITES and node.args:
            file = node.args[0]  # write_json(path, data)
        else:
            continue
        if mentions(file):
            yield node, name


@dataclass
class Report:
    """Everything the report prints."""

    tree: Tree
    imports: list[Import]

    @classmethod
    def of(cls, root: str | Path) -> Report:
        tree = load_tree(root)
        return cls(tree, imports(tree))

    @property
    def family_files(self) -> dict[str, list[str]]:
        out = {}
        for name, pkg in self.tree.families.items():
            folder = pkg.replace(".", "/") + "/"
            out[name] = sorted(m.path.removeprefix(folder) for m in self.tree.modules.values()
                               if m.path.startswith(folder))
        return out

    @property
    def generic_family_imports(self) -> list[Import]:
        return generic_family_imports(self.tree, self.imports)

    @property
    def function_imports(self) -> dict[str, list[Import]]:
        return function_imports(self.tree, self.imports)

    @property
    def graph(self) -> dict[str, set[str]]:
        return package_graph(self.tree, self.imports)

    @property
    def cycles(self) -> list[dict]:
        return cycles(self.graph)

    @property
    def dynamic_imports(self) -> list[Write]:
        return dynamic_imports(self.tree)

    @property
    def hidden_cycles(self) -> list[dict]:
        """The package cycles once the imports inside functions count as well."""
        return cycles(package_graph(self.tree, self.imports, functions=True))

    def as_dict(self) -> dict:
        """The report as JSON-ready data (``scripts/architecture_report.py --json``)."""
        inside = self.function_imports
        return {
            "root": str(self.tree.root), "layout": self.tree.layout,
            "families": {name: {"package": self.tree.families[name], "files": len(files), "names": files}
                         for name, files in self.family_files.items()},
            "generic_family_imports": {"count": len(self.generic_family_imports), "imports": [
                {"where": f"{i.path}:{i.line}", "target": i.target, "scope": i.scope, "function": i.function}
                for i in self.generic_family_imports]},
            "function_imports": {
                "counts": {kind: len(found) for kind, found in inside.items()},
                "first_party": [{"where": f"{i.path}:{i.line}", "function": i.function, "target": i.target}
                                for i in inside["first-party"]]},
            "dynamic_imports": [{"where": f"{d.path}:{d.line}", "function": d.function, "call": d.call}
                                for d in self.dynamic_imports],
            "package_cycles": self.cycles,
            "package_cycles_with_function_imports": self.hidden_cycles,
            "longest_functions": [{"lines": f.lines, "name": f.name, "where": f"{f.path}:{f.line}"}
                                  for f in longest_functions(self.tree)],
            "results_writers": [{"where": f"{w.path}:{w.line}", "function": w.function, "call": w.call}
                                for w in results_writers(self.tree)],
        }

    def text(self) -> str:
        """The report as compact text."""
        data = self.as_dict()
        out = [f"architecture of {data['root']} (families: {data['layout']})", "",
               f"family packages: {len(data['families'])}"]
        out += [f"  {name:<22}{f['files']:>3} files  {', '.join(f['names'])}" for name, f in data["families"].items()]
        generic = data["generic_family_imports"]
        out += ["", f"imports from generic code into a family: {generic['count']}"]
        for i in generic["imports"]:
            where = {"module": "", "type-checking": "  (if TYPE_CHECKING)", "function": f"  (in {i['function']})"}
            out.append(f"  {i['where']:<40} -> {i['target']}{where[i['scope']]}")
        counts = data["function_imports"]["counts"]
        out += ["", "imports inside functions: " + ", ".join(f"{kind} {n}" for kind, n in counts.items())]
        out += [f"  {i['where']:<40} {i['function']} -> {i['target']}" for i in data["function_imports"]["first_party"]]
        out += ["", f"imports by name at run time (importlib.import_module): {len(data['dynamic_imports'])}"]
        out += [f"  {d['where']:<40} {d['function'] or '(module)'}: {d['call']}" for d in data["dynamic_imports"]]
        for key, title in (("package_cycles", "package cycles (module-level run-time imports)"),
                           ("package_cycles_with_function_imports", "package cycles counting the imports inside "
                                                                    "functions too")):
            out += ["", f"{title}: {len(data[key])}"]
            for n, component in enumerate(data[key], 1):
                out.append(f"  {n}. {len(component['members'])} packages, {len(component['edges'])} edges: "
                           f"{', '.join(component['members'])}")
                out += [f"     {' -> '.join(path)}" for path in component["cycles"]]
        out += ["", "longest functions:"]
        out += [f"  {f['lines']:>4}  {f['name']:<44} {f['where']}" for f in data["longest_functions"]]
        out += ["", f"places that write results.json: {len(data['results_writers'])}"]
        out += [f"  {w['where']:<40} {w['call']} in {w['function'] or '(module)'}" for w in data["results_writers"]]
        return "\n".join(out)


def graph_label(tree: Tree, node: str) -> str:
    """A package graph node as drawn: a family as ``families.NAME``, a subpackage as its first name
    (``data``, ``export``, ...), a top-level module as its name."""
    family = tree.family_of(node)
    if family:
        return f"families.{family}"
    return node.removeprefix(PACKAGE + ".").split(".")[0] if node != PACKAGE else PACKAGE


def collapsed_graph(root: str | Path) -> tuple[list[str], dict[tuple[str, str], bool]]:
    """The drawn graph: its nodes, and (importer, imported) -> whether some import of that edge is at module level
    (else they all sit inside functions). Run-time imports only; edges inside one drawn node dropped."""
    tree = load_tree(root)
    nodes = sorted({graph_label(tree, node_of(tree, name)) for name in tree.modules})
    edges: dict[tuple[str, str], bool] = {}
    for i in imports(tree):
        if not i.first_party or i.type_checking:
            continue
        edge = (graph_label(tree, node_of(tree, i.importer)), graph_label(tree, node_of(tree, i.target)))
        if edge[0] != edge[1]:
            edges[edge] = edges.get(edge, False) or not i.function
    return nodes, dict(sorted(edges.items()))


def mermaid(root: str | Path) -> str:
    """The package dependency graph as a Mermaid ``graph LR``: ``-->`` module-level imports, ``-.->`` imports
    only inside functions."""
    nodes, edges = collapsed_graph(root)
    out = ["graph LR"]
    out += [f'  {node.replace(".", "_")}["{node}"]' for node in nodes]
    out += [f"  {a.replace('.', '_')} {'-->' if module_level else '-.->'} {b.replace('.', '_')}"
            for (a, b), module_level in edges.items()]
    return "\n".join(out)


def graph_text(root: str | Path) -> str:
    """The package dependency graph as plain text: each node and what it imports, ``(name)`` where every import
    of it sits inside functions, ``-`` for nothing."""
    nodes, edges = collapsed_graph(root)
    width = max(map(len, nodes), default=0)
    lines = []
    for node in nodes:
        targets = [b if module_level else f"({b})" for (a, b), module_level in edges.items() if a == node]
        lines.append(f"{node:<{width}} -> {', '.join(targets) or '-'}")
    return "\n".join(lines)
