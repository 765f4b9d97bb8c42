"""One benchmarked variant in a fresh process: ``python -m hubtools.export.worker SPEC_JSON KIND PATH``.

KIND ``pytorch`` loads the model folder PATH with the installed classes (no code of the run runs), ``onnx`` the
ONNX file PATH in an ONNX Runtime session; either is timed (:func:`hubtools.export.timing.time_predict`) on the
tokenized rows of SPEC_JSON under each thread setting, and one JSON line with the settings' timings and the
process's peak resident memory is printed. An ONNX process never imports torch, so its peak is its own.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from hubtools.export.inference import Forward, ort_forward, ort_session, pad_batch, torch_forward
from hubtools.export.timing import Workload, peak_rss_bytes, time_predict
from hubtools.remote_code import load_token_classifier


def variant_forward(kind: str, path: str, threads: int | None, device: str) -> tuple[Forward, list[str]]:
    """The forward of one variant and the inputs it takes."""
    if kind == "pytorch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        return torch_forward(load_token_classifier(path), device)
    return ort_forward(ort_session(path, threads, device))


def measure(spec: dict, kind: str, path: str) -> dict:
    """One variant under every thread setting of ``spec``; with this process's peak resident memory."""
    rows = spec["rows"]
    out = []
    for threads in spec["threads"]:
        forward, names = variant_forward(kind, path, threads, spec["device"])
        work = Workload.of(rows, [len(row["input_ids"]) for row in rows], spec["words"],
                           partial(pad_batch, names=names, pad_id=spec["pad_id"]))
        out.append({"threads": threads or "gpu", **time_predict(forward, work)})
    return {"peak_rss_bytes": peak_rss_bytes(), "settings": out}


def main(argv: list[str]) -> None:
    """Worker entry point: ``SPEC_JSON KIND PATH``; prints one JSON line."""
    spec_path, kind, path = argv
    print(json.dumps(measure(json.loads(Path(spec_path).read_text()), kind, path)))


if __name__ == "__main__":
    main(sys.argv[1:])
