"""Rendering the card templates from typed results, with strict missing-value errors.

The templates live in the top-level ``cards/`` folder, installed as the ``hubtools.cards.templates`` package
(``pyproject.toml``); a folder given by ``publish.templates`` or ``hubtools card --templates DIR`` is searched
first, so an organisation can replace any template (or only a partial) with its own. A template that reads a
value that is absent, ``None`` or empty fails with :class:`~hubtools.errors.CardError` naming its path
(``results.test.f1``); optional parts test ``is defined`` explicitly.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from hubtools.errors import CardError
from hubtools.units import megabytes


def default_templates() -> Path:
    """The shipped templates: ``cards/`` of the checkout the package is imported from (a worktree renders with
    its own templates even where another checkout is installed in editable mode), else the installed
    ``hubtools.cards.templates`` package."""
    checkout = Path(__file__).resolve().parents[2] / "cards"
    if (checkout / "model_card.md.j2").is_file():
        return checkout
    return Path(str(importlib.resources.files("hubtools.cards.templates")))


def is_missing(obj: Any) -> bool:
    """``None``, an empty string or an empty container: a value a card must not print."""
    return obj is None or (isinstance(obj, (str, list, tuple, dict)) and len(obj) == 0)


class _Missing(jinja2.StrictUndefined):
    """An absent, None or empty value: fails as soon as a template uses it (``is defined`` is False)."""


def _missing(path: str) -> _Missing:
    return _Missing(hint=f"missing value {path} (absent, None or empty)", name=path)


def _track(obj: Any, path: str) -> Any:
    """Wrap ``obj`` so that lookups inside it know their path; missing values become :class:`_Missing`."""
    if is_missing(obj):
        return _missing(path)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _Object(obj, path)
    if isinstance(obj, dict):
        return _Mapping(obj, path)
    if isinstance(obj, (list, tuple)):
        return _Sequence(obj, path)
    return obj


class _Object:
    """A dataclass whose attributes are handed out tracked (properties too)."""

    def __init__(self, obj: Any, path: str) -> None:
        self._obj, self._path = obj, path

    def child(self, name: str) -> Any:
        if not hasattr(self._obj, name):
            return _missing(f"{self._path}.{name}")
        return _track(getattr(self._obj, name), f"{self._path}.{name}")


class _Mapping(dict):
    """A dict that wraps what it hands out with its key path."""

    def __init__(self, data: dict, path: str) -> None:
        super().__init__(data)
        self.path = path

    def child(self, key: Any) -> Any:
        path = f"{self.path}.{key}"
        return _track(dict.get(self, key), path) if key in self else _missing(path)

    def items(self):  # type: ignore[override]
        return [(key, self.child(key)) for key in self]

    def values(self):  # type: ignore[override]
        return [self.child(key) for key in self]


class _Sequence(list):
    """A list that wraps its items with their index path."""

    def __init__(self, data: list | tuple, path: str) -> None:
        super().__init__(data)
        self.path = path

    def child(self, index: int) -> Any:
        path = f"{self.path}[{index}]"
        in_range = isinstance(index, int) and -len(self) <= index < len(self)
        return _track(list.__getitem__(self, index), path) if in_range else _missing(path)

    def __iter__(self):
        return (self.child(i) for i in range(len(self)))


class _CardEnvironment(jinja2.Environment):
    """Attribute and item lookups on tracked values go through their ``child``."""

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (_Mapping, _Sequence, _Object)):
            return obj.child(argument)
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _Object):
            return obj.child(attribute)
        if isinstance(obj, _Mapping) and (attribute in obj or not hasattr(obj, attribute)):
            return obj.child(attribute)
        return super().getattr(obj, attribute)


def _no_none(obj: Any) -> Any:
    if obj is None:
        raise CardError("a template printed None")
    if isinstance(obj, _Object):
        raise CardError(f"a template printed the whole object {obj._path}")
    return obj


def _number(obj: Any, digits: int = 4) -> str:
    """A float with ``digits`` decimals; other values unchanged."""
    return f"{obj:.{digits}f}" if isinstance(obj, float) else str(obj)


def _cell(obj: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(obj).replace("|", "\\|").replace("\n", " ")


def environment(template_dirs: Sequence[Path]) -> jinja2.Environment:
    """The Jinja environment the card templates render in, searching ``template_dirs`` in order."""
    env = _CardEnvironment(loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]),
                           undefined=_Missing, finalize=_no_none, autoescape=False,
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(number=_number, cell=_cell, mb=megabytes)
    return env


def template_dirs(override: str | Path | None = None) -> list[Path]:
    """The folders templates are looked up in: ``override`` first (it must exist), then the shipped ones."""
    dirs = [default_templates()]
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise CardError(f"card templates folder {folder} does not exist (publish.templates / --templates)")
        dirs.insert(0, folder)
    return dirs


def render(template: str, context: dict[str, Any], dirs: Sequence[Path]) -> str:
    """Render one template; CardError names the template and the missing value."""
    tracked = {key: _track(value, key) for key, value in context.items()}
    try:
        return environment(dirs).get_template(template).render(tracked)
    except jinja2.UndefinedError as err:
        raise CardError(f"{template}: {err}") from err
    except jinja2.TemplateNotFound as err:
        raise CardError(f"{template}: no template {err.name!r} in {[str(d) for d in dirs]}") from err
    except CardError as err:
        raise CardError(f"{template}: {err}") from err
