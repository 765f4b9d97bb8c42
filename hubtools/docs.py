"""The generated pages of the documentation site: the command-line reference from the argument parsers, the
configuration reference from the configuration dataclasses and the package graph from the imports, so none can
drift from the code.

``mkdocs.yml`` names this file as a hook: :func:`on_files` adds ``reference/cli.md`` and
``reference/configuration.md`` to the site at build time, :func:`on_page_markdown` replaces the markers of
``INSERTED`` in a page (the package graph in ``architecture.md``), :func:`on_page_content` shows the docstrings'
Sphinx roles as code. :func:`cli_reference`, :func:`configuration_reference` and :func:`package_graph` return the
Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import textwrap
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from hubtools import config
from hubtools.architecture import graph_text
from hubtools.cli import build_parser
from hubtools.families import family
from hubtools.recipe import config as recipe_config
from hubtools.recipe.cli import script_parser
from hubtools.recipe.scripts import recipe_module, recipe_parts
from hubtools.training import arguments

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ("finer", "multinerd", "conll_distil", "fewnerd", "ner_uk", "ner")  # the order of the site's pages
TRANSFORMERS_TRAINING_ARGUMENTS = "https://huggingface.co/docs/transformers/main_classes/trainer#transformers.TrainingArguments"


def _markdown(text: str) -> str:
    """Docstring text as Markdown: Sphinx roles (``:mod:`x```) become code spans."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)


def _script_doc(doc: str) -> str:
    """A recipe script's docstring as Markdown: its paragraphs of example commands become code blocks."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    commands = ("accelerate ", "python ")
    return "\n\n".join(f"```bash\n{textwrap.dedent(p)}\n```" if all(line.strip().startswith(commands)
                                                                      for line in p.splitlines())
                        else _markdown(p) for p in paragraphs)


def _cell(text: Any) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return _markdown(" ".join(str(text).split())).replace("|", "\\|")


def _value(value: Any) -> str:
    """A default value as YAML writes it inline."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _argument_name(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    takes_value = action.nargs != 0
    metavar = action.metavar or (action.dest.upper() if not action.choices else None)
    return ", ".join(f"{flag} {metavar}" if takes_value and metavar else flag for flag in action.option_strings)


def parser_markdown(parser: argparse.ArgumentParser) -> str:
    """The usage line and a table of the arguments of one parser (subcommands excepted)."""
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=90)
    rows = []
    for action in parser._actions:  # argparse offers no public listing of its arguments
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        default = action.default
        shown = "" if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 else _value(default)
        choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
        rows.append(f"| `{_cell(_argument_name(action))}` | {_cell(action.help or '')} | {choices} | "
                    f"{'`' + _cell(shown) + '`' if shown else ''} |")
    usage = parser.format_usage().removeprefix("usage: ").rstrip()
    return "\n".join(["```text", usage, "```", "", "| argument | what | choices | default |",
                      "|---|---|---|---|", *rows, ""])


def cli_reference() -> str:
    """The command-line reference: ``hubtools`` and its subcommands, then every recipe script."""
    parser = build_parser()
    out = ["# Command-line reference", "",
           "Generated from the argument parsers (`hubtools/cli.py`, `hubtools/recipe/cli.py` and each recipe "
           "script's own options) when the site is built.", "",
           "## hubtools", "", inspect.cleandoc(parser.description), "", parser_markdown(parser)]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    for name, subparser in sub.choices.items():
        out += [f"### hubtools {name}", "", f"{helps[name][0].upper()}{helps[name][1:]}.", "",
                parser_markdown(subparser)]
    out += ["## Recipes", "",
            "Every recipe script takes the same arguments, plus its own variant option or shortcuts. "
            "Run it with `accelerate launch recipes/NAME.py ...` or `python recipes/NAME.py ...`.", ""]
    for name in RECIPES:
        module = recipe_module(name)
        _, variants, shortcuts = recipe_parts(module)
        parser = script_parser(module.__doc__, variants, shortcuts)
        parser.prog = f"recipes/{name}.py"
        out += [f"### recipes/{name}.py", "", _script_doc(module.__doc__), "", parser_markdown(parser)]
    return "\n".join(out)


def field_descriptions(cls: type) -> dict[str, str]:
    """Field name -> its description in the ``Attributes:`` section of the class docstring (an entry may name
    several fields, ``tokens_column / tags_column: ...``)."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    if "Attributes:" not in lines:
        return {}
    entries: list[tuple[list[str], list[str]]] = []
    for line in lines[lines.index("Attributes:") + 1:]:
        if not line.strip():
            break
        entry = re.match(r"    (\w+(?: / \w+)*): (.*)", line)
        if entry:
            entries.append((entry[1].split(" / "), [entry[2]]))
        elif entries:
            entries[-1][1].append(line.strip())
    return {name: " ".join(text) for names, text in entries for name in names}


def section_markdown(key: str, cls: type, shown: Collection[str] | None = None) -> str:
    """A table of one configuration section's keys (those ``shown``, by default all), their types, defaults and
    descriptions (from the docstrings of ``cls`` and the classes it derives from)."""
    descriptions: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        descriptions.update(field_descriptions(klass))
    fields = [f for f in dataclasses.fields(cls) if shown is None or f.name in shown]
    missing = [f.name for f in fields if f.name not in descriptions]
    if missing:
        raise ValueError(f"{cls.__module__}.{cls.__name__}: no description of {', '.join(missing)} in the "
                         f"'Attributes:' section of its docstring")
    rows = []
    for f in fields:
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown_default = "required" if default is dataclasses.MISSING else f"`{_cell(_value(default))}`"
        rows.append(f"| `{key}.{f.name}` | `{_cell(f.type)}` | {shown_default} | {_cell(descriptions[f.name])} |")
    summary = inspect.cleandoc(cls.__doc__).split("\n\n")[0]
    return "\n".join([f"`{cls.__module__}.{cls.__name__}`: {_markdown(' '.join(summary.split()))}", "",
                      "| key | type | default | what |", "|---|---|---|---|", *rows, ""])


def family_model_keys(cls: type[config.ModelConfig]) -> list[str]:
    """The ``model`` keys a family's model options declare beyond (or over) the shared :class:`ModelConfig`."""
    declared = {name for klass in cls.__mro__[:cls.__mro__.index(config.ModelConfig)]
                for name in vars(klass).get("__annotations__", {})}
    return [f.name for f in dataclasses.fields(cls) if f.name in declared]


def model_options_markdown(cls: type[config.ModelConfig], recipes: list[str]) -> list[str]:
    """A family's ``model`` keys and, per architecture it builds, the keys of ``model.from_scratch``."""
    out = [f"### model: {cls.FAMILY} ({', '.join(recipes)})", "",
           section_markdown("model", cls, family_model_keys(cls))]
    for architecture, sizes in cls.ARCHITECTURES.items():
        out += [f"With `model.architecture: {architecture}`, the keys of `model.from_scratch`:", "",
                section_markdown("model.from_scratch", sizes)]
    return out


def configuration_reference() -> str:
    """The configuration reference: the shared sections with each family's ``model`` keys, ``training``, and
    each family's options section."""
    recipes = {name: recipe_parts(recipe_module(name))[0] for name in RECIPES}
    models: dict[type, list[str]] = {}
    families: dict[type, list[str]] = {}
    for name, recipe in recipes.items():
        models.setdefault(family(recipe.family).model_options_class, []).append(name)
        if recipe.options_class is not None:
            families.setdefault(recipe.options_class, []).append(name)
    out = ["# Configuration reference", "",
           "Generated from the configuration dataclasses when the site is built. " + _markdown(" ".join(
               inspect.cleandoc(recipe_config.__doc__).split("\n\n")[1].split())), "",
           "A recipe's YAML file (`recipes/configs/NAME.yaml`, its tiny preset `NAME-tiny.yaml`) holds `recipe`, "
           "`system` (the variant), `output_dir` and the sections below; every key can be set on the command "
           "line as `section.key=value`.", ""]
    for key, cls in {"data": config.DataConfig, "model": config.ModelConfig, **recipe_config.SECTIONS}.items():
        out += [f"## {key}", "", section_markdown(key, cls)]
        if key == "model":
            out += ["Each family reads these keys and its own below; a key the recipe's family does not read is "
                    "refused.", ""]
            for model_class, names in models.items():
                out += model_options_markdown(model_class, names)
    own = {name: f for name, f in arguments.NerTrainingArguments.__dataclass_fields__.items()
           if name in vars(arguments.NerTrainingArguments).get("__annotations__", {})}
    default_help = "nerhub's default"
    rows = [f"| `training.{name}` | `{_cell(_value(f.default))}` | {_cell(f.metadata.get('help', default_help))} |"
            for name, f in own.items()]
    out += ["## training", "", _markdown(inspect.cleandoc(arguments.__doc__)), "",
            f"The options: transformers' [`TrainingArguments`]({TRANSFORMERS_TRAINING_ARGUMENTS}). The defaults "
            "nerhub sets and the keys it adds (`NerTrainingArguments`):", "",
            "| key | default | what |", "|---|---|---|", *rows, ""]
    out += ["## Family options", "",
            "A model family's own section; its key is `options` unless the family names another.", ""]
    for cls, names in families.items():
        key = recipe_config.options_section(cls)
        out += [f"### {key}: {', '.join(names)}", "", section_markdown(key, cls)]
    return "\n".join(out)


def package_graph() -> str:
    """The package graph of ``hubtools/`` as a text block (``hubtools.architecture.graph_text``): the site's
    Material theme loads Mermaid from a CDN, so a Mermaid diagram would not render offline."""
    return "\n".join([
        "Generated from the imports of `hubtools/` (`hubtools/architecture.py`) when the site is built. Each line: "
        "a top-level module or a subpackage (`data`, `export`, ...; a model family as `families.NAME`) and what its "
        "modules import; `(name)`: imported only inside functions; imports under `if TYPE_CHECKING:` are left "
        "out. `python scripts/architecture_report.py --mermaid` prints the same graph as Mermaid.", "",
        "```text", graph_text(ROOT), "```"])


GENERATED = {"reference/cli.md": cli_reference, "reference/configuration.md": configuration_reference}
# page -> marker -> what replaces it: generated sections of hand-written pages.
PACKAGE_GRAPH_MARKER = "<!-- generated: package graph -->"
INSERTED = {"architecture.md": {PACKAGE_GRAPH_MARKER: package_graph}}


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """mkdocs hook: each marker of ``INSERTED`` in its page replaced by the generated Markdown (a page that lost
    its marker fails the build)."""
    from mkdocs.exceptions import PluginError

    for marker, generate in INSERTED.get(page.file.src_uri, {}).items():
        if marker not in markdown:
            raise PluginError(f"docs/{page.file.src_uri}: the marker {marker} of the generated section is missing")
        markdown = markdown.replace(marker, generate())
    return markdown


def on_page_content(html: str, **kwargs: Any) -> str:
    """mkdocs hook: the Sphinx roles of the docstrings (``:func:`name```), rendered by mkdocstrings as
    ``:func:<code>name</code>``, shown as the code span alone."""
    return re.sub(r":\w+:<code>~?", "<code>", html)


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated reference pages to the site."""
    from mkdocs.structure.files import File

    for path, generate in GENERATED.items():
        files.append(File.generated(config, path, content=generate()))
    return files
