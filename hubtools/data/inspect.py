"""``hubtools data``: load and validate a source exactly as a recipe would and summarize what a user checks
before training (splits, sentence and word counts, scheme, entity types per split, skipped lines, first rows).

The source goes through :func:`hubtools.data.build.load_validated` (``--build``: the whole
:func:`hubtools.data.build.build_dataset`) with the :class:`hubtools.config.DataConfig` that the same
``data.key=value`` settings give a recipe (:func:`hubtools.config.data_section`), so a source that passes here
passes in a recipe.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow.compute as pc
from datasets import Dataset, DatasetDict

from hubtools.data.build import build_dataset, load_validated
from hubtools.data.labels import label_statistics
from hubtools.data.loading import LoadReport
from hubtools.data.schemes import types_of
from hubtools.data.validation import TAGS, TOKENS, arrow_table, label_names_of

if TYPE_CHECKING:  # the configuration is passed in; data never imports it at run time
    from hubtools.config import DataConfig

MAX_SHOWN_TOKENS = 30


def split_summary(ds: Dataset, head: int) -> dict:
    """Sentences, words, entities per type and the first ``head`` rows (tokens with tag names) of a split."""
    names = label_names_of(ds)
    words = pc.sum(pc.list_value_length(arrow_table(ds).column(TOKENS))).as_py() or 0
    first = ds.select(range(min(head, len(ds))))
    return {
        "sentences": len(ds),
        "words": int(words),
        "entities": label_statistics(ds).entity_counts,
        "head": [{"tokens": row[TOKENS], "tags": [names[i] for i in row[TAGS]]} for row in first],
    }


def summarize(cfg: DataConfig, head: int = 3, build: bool = False) -> dict:
    """Load and validate ``cfg``'s source as a recipe would and summarize it (a JSON-ready dict).

    Keys: ``source``, ``format``, ``files``, ``scheme`` (of the source, detected or given),
    ``scheme_given``, ``converted_to`` (IOB2), ``label_names``, ``entity_types``, ``skipped_lines``
    (``total`` and line numbers per file), ``splits`` (name -> ``sentences``, ``words``, ``entities``,
    ``head``) and, with ``build``, ``build_steps``.
    """
    report = LoadReport()
    if build:
        dsd, info = build_dataset(cfg, report)
        steps = info.build.steps
    else:
        dsd, steps = load_validated(cfg, report), None
    label_names = label_names_of(next(iter(dsd.values())))
    summary = {
        "source": cfg.source,
        "format": report.format,
        "files": report.files,
        "scheme": report.scheme,
        "scheme_given": report.scheme_given,
        "converted_to": "IOB2",
        "label_names": label_names,
        "entity_types": types_of(label_names),
        "skipped_lines": {"total": report.num_skipped, "files": report.skipped_lines},
        "splits": {split: split_summary(ds, head) for split, ds in DatasetDict(dsd).items()},
    }
    if steps is not None:
        summary["build_steps"] = steps
    return summary


def _row_text(row: dict) -> str:
    pairs = [tok if tag == "O" else f"{tok}/{tag}" for tok, tag in zip(row["tokens"], row["tags"], strict=True)]
    more = len(pairs) - MAX_SHOWN_TOKENS
    return " ".join(pairs[:MAX_SHOWN_TOKENS]) + (f" ... (+{more} words)" if more > 0 else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = [f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths)]
    return ["  ".join(f.format(c) for f, c in zip(fmt, r, strict=True)).rstrip() for r in [header, *rows]]


def format_summary(summary: dict, as_json: bool = False) -> str:
    """The summary as text for a person (untagged words plain, others ``word/TAG``) or as one JSON object."""
    if as_json:
        return json.dumps(summary, ensure_ascii=False)
    splits = summary["splits"]
    scheme = f"{summary['scheme']} ({'given' if summary['scheme_given'] else 'detected'})"
    skipped = summary["skipped_lines"]
    lines = [
        f"source   {summary['source']} ({summary['format']})",
        *([f"files    {', '.join(f'{s}: {f}' for s, f in summary['files'].items())}"] if summary["files"] else []),
        f"scheme   {scheme}, converted to {summary['converted_to']}",
        f"labels   {len(summary['label_names'])}: {' '.join(summary['label_names'])}",
        f"skipped  {skipped['total']} malformed line(s)"
        + ("".join(f"; {f}: lines {', '.join(map(str, n[:10]))}{' ...' if len(n) > 10 else ''}"
                   for f, n in skipped["files"].items())),
        "",
    ]
    lines += _table(["split", "sentences", "words", "entities"],
                    [[s, f"{d['sentences']:,}", f"{d['words']:,}", f"{sum(d['entities'].values()):,}"]
                     for s, d in splits.items()])
    lines.append("")
    lines += _table(["entity type", *splits],
                    [[t, *(f"{splits[s]['entities'].get(t, 0):,}" for s in splits)] for t in summary["entity_types"]])
    for split, data in splits.items():
        lines += ["", f"{split}: first {len(data['head'])} rows"]
        lines += [f"  {_row_text(row)}" for row in data["head"]]
    if "build_steps" in summary:
        lines += ["", "build steps:", *(f"  {i}. {step}" for i, step in enumerate(summary["build_steps"], 1))]
    return "\n".join(lines)
