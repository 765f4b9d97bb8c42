"""Model and dataset cards rendered from a run folder's results.json, and their local validation.

Templates live in ``hubtools/templates/`` (shipped with the package). A template that reads a value that
is absent, ``None`` or empty fails with :class:`~hubtools.errors.CardError` naming the key path
(``results.test.f1``); optional parts test ``is defined`` explicitly. A recipe adds a section by listing
template names in results.json ``card.extra_sections`` (``["distillation"]`` includes
``section_distillation.md.j2``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from hubtools.card_checks import check_dataset_card, check_model_card
from hubtools.card_data import card_context, is_missing
from hubtools.errors import CardError
from hubtools.run import atomic_write_text, load_results

TEMPLATE_DIRS = [Path(__file__).parent / "templates"]
MODEL_TEMPLATE = "model_card.md.j2"
DATASET_TEMPLATE = "dataset_card.md.j2"


class _Missing(jinja2.StrictUndefined):
    """An absent, None or empty value: fails as soon as a template uses it (``is defined`` is False)."""


def _track(obj: Any, path: str) -> Any:
    """Wrap ``obj`` so that lookups inside it know their key path; missing values become :class:`_Missing`."""
    if is_missing(obj):
        return _Missing(hint=f"missing value {path} (absent, None or empty)", name=path)
    if isinstance(obj, dict):
        return _Mapping(obj, path)
    if isinstance(obj, (list, tuple)):
        return _Sequence(obj, path)
    return obj


class _Mapping(dict):
    """A dict that wraps what it hands out with its key path."""

    def __init__(self, data: dict, path: str):
        super().__init__(data)
        self.path = path

    def child(self, key: Any) -> Any:
        path = f"{self.path}.{key}"
        return _track(dict.get(self, key), path) if key in self else _Missing(hint=f"missing value {path}", name=path)

    def items(self):  # type: ignore[override]
        return [(key, self.child(key)) for key in self]

    def values(self):  # type: ignore[override]
        return [self.child(key) for key in self]


class _Sequence(list):
    """A list that wraps its items with their index path."""

    def __init__(self, data: list | tuple, path: str):
        super().__init__(data)
        self.path = path

    def child(self, index: int) -> Any:
        path = f"{self.path}[{index}]"
        in_range = isinstance(index, int) and -len(self) <= index < len(self)
        return _track(list.__getitem__(self, index), path) if in_range else _Missing(hint=f"missing value {path}")

    def __iter__(self):
        return (self.child(i) for i in range(len(self)))


class _CardEnvironment(jinja2.Environment):
    """Attribute and item lookups on tracked values go through :meth:`_Mapping.child`."""

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (_Mapping, _Sequence)):
            return obj.child(argument)
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _Mapping) and (attribute in obj or not hasattr(obj, attribute)):
            return obj.child(attribute)
        return super().getattr(obj, attribute)


def _no_none(obj: Any) -> Any:
    if obj is None:
        raise CardError("a template printed None")
    return obj


def _number(obj: Any, digits: int = 4) -> str:
    """A float with ``digits`` decimals; other values unchanged."""
    return f"{obj:.{digits}f}" if isinstance(obj, float) else str(obj)


def _cell(obj: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(obj).replace("|", "\\|").replace("\n", " ")


def environment() -> jinja2.Environment:
    """The Jinja environment the card templates render in."""
    env = _CardEnvironment(loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
                           undefined=_Missing, finalize=_no_none, autoescape=False,
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(number=_number, cell=_cell)
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """Render one template; CardError names the template and the missing value."""
    tracked = {key: _track(v, key) for key, v in context.items()}
    try:
        return environment().get_template(template).render(tracked)
    except jinja2.UndefinedError as err:
        raise CardError(f"{template}: {err}") from err
    except jinja2.TemplateNotFound as err:
        raise CardError(f"{template}: no template {err.name!r} in {[str(d) for d in TEMPLATE_DIRS]}") from err
    except CardError as err:
        raise CardError(f"{template}: {err}") from err


def render_cards(run_dir: str | Path, model_repo_id: str | None = None,
                 dataset_repo_id: str | None = None) -> tuple[Path, Path]:
    """Write RUN/model/README.md and RUN/dataset/README.md from RUN/results.json (both or neither)."""
    run_dir = Path(run_dir)
    context = card_context(load_results(run_dir), run_dir, model_repo_id=model_repo_id,
                           dataset_repo_id=dataset_repo_id)
    model_card, dataset_card = render(MODEL_TEMPLATE, context), render(DATASET_TEMPLATE, context)
    model_path, dataset_path = run_dir / "model" / "README.md", run_dir / "dataset" / "README.md"
    atomic_write_text(model_path, model_card)
    atomic_write_text(dataset_path, dataset_card)
    return model_path, dataset_path


def check_cards(run_dir: str | Path) -> list[str]:
    """Problems with the rendered cards of a run folder (empty when both are fine)."""
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    return check_model_card(run_dir, results) + check_dataset_card(run_dir, results)
