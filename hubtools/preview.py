"""``hubtools preview RUN``: the model card as the Hub renders it and the demo Space page, served on 127.0.0.1
before anything is pushed.

The server lays the run out as the model repo would be (:func:`hubtools.push.model_files`: config.json and the
tokenizer at the root, ``onnx/``, ``plots/``, the card rendered for the repo) and answers the Hub's resolve route
for it (``/NS/NAME/resolve/main/PATH``), so the Space page (``/space/``, :mod:`hubtools.space`) loads the model from
the preview server with Transformers.js as it loads it from the Hub. ``/`` is the card: its metadata as the Hub's
header shows them, the model-index as the evaluation table, the body rendered from markdown (tables, code, the
plots inline), and the Space page beside it where the Hub shows its widget.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import markdown
from markupsafe import Markup

from hubtools.cards import card_texts
from hubtools.cards.data import model_name
from hubtools.cards.rules import front_matter
from hubtools.errors import UsageError
from hubtools.push import model_files
from hubtools.run import read_results
from hubtools.space import TRANSFORMERS_JS_FILE, TRANSFORMERS_JS_VERSION, environment, space_files

Content = bytes | Path
MIME = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
        ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".css": "text/css",
        ".json": "application/json"}
MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]
FRONT_MATTER = re.compile(r"^---\s*\n.*?\n---\s*(?:\n|$)", re.S)


def card_page(card: str, repo_id: str) -> str:
    """The model card as HTML, laid out as the Hub's model page: metadata header, body, evaluation results and the
    Space page (``space/``) as the widget."""
    meta = front_matter(card)
    header = FRONT_MATTER.match(card)
    body = card[header.end():] if header else card
    context: dict[str, Any] = {"repo_id": repo_id, "meta": meta, "chips": metadata_chips(meta),
                               "evaluation": evaluation_rows(meta.get("model-index") or []),
                               "body": Markup(markdown.markdown(body, extensions=MARKDOWN_EXTENSIONS))}
    return environment().get_template("preview.html.j2").render(context)


def metadata_chips(meta: dict) -> list[tuple[str, str]]:
    """(kind, value) for each metadata value the Hub's header shows as a chip."""
    chips = [(kind, meta[key]) for kind, key in (("Task", "pipeline_tag"), ("Library", "library_name"))
             if isinstance(meta.get(key), str)]
    for kind, key in (("Language", "language"), ("Dataset", "datasets"), ("Base model", "base_model"),
                      ("Tag", "tags")):
        values = meta.get(key) or []
        chips += [(kind, value) for value in ([values] if isinstance(values, str) else values)]
    if isinstance(meta.get("license"), str):
        chips.append(("License", meta["license"]))
    return chips


def evaluation_rows(model_index: list[dict]) -> list[dict[str, Any]]:
    """One row per metric of the model-index: dataset, split, metric name and value (the Hub's evaluation box)."""
    return [{"dataset": result["dataset"].get("name"), "dataset_id": result["dataset"].get("type"),
             "split": result["dataset"].get("split"), "metric": metric.get("name") or metric["type"],
             "value": metric["value"]}
            for entry in model_index for result in entry.get("results", []) for metric in result.get("metrics", [])]


def preview_site(run_dir: str | Path, endpoint: str, *, module_url: str | None = None,
                 wasm_url: str | None = None) -> dict[str, Content]:
    """URL path -> content of the preview served at ``endpoint``: the card page at ``/`` (and at ``/NS/NAME``, where
    the Space page links the model), the Space at ``/space/``, the model repo's files at ``/PATH`` and
    ``/NS/NAME/resolve/main/PATH``."""
    run_dir = Path(run_dir)
    results = read_results(run_dir)
    repo_id = results.publish.model_repo_id or f"local/{model_name(results, None)}"
    dataset_repo_id = results.publish.dataset_repo_id
    card, _ = card_texts(run_dir, results, model_repo_id=repo_id, dataset_repo_id=dataset_repo_id)
    repo: dict[str, Content] = {path: local.data if local.data is not None else local.path
                                for path, local in model_files(run_dir, repo_id, results)[0].items()}
    repo["README.md"] = card.encode()
    space = space_files(run_dir, results, repo_id, dataset_repo_id, module_url, wasm_url=wasm_url, endpoint=endpoint)
    page = card_page(card, repo_id).encode()
    return {**{f"/{path}": content for path, content in repo.items()},
            **{f"/{repo_id}/resolve/main/{path}": content for path, content in repo.items()},
            **{f"/space/{path}": content for path, content in space.items()},
            "/space/": space["index.html"], "/": page, f"/{repo_id}": page}


class SiteServer(ThreadingHTTPServer):
    """Serves ``files`` (URL path -> bytes or file) and ``folders`` (URL prefix -> folder) on 127.0.0.1, GET and
    HEAD; :meth:`start` serves in a thread."""

    daemon_threads = True

    def __init__(self, files: dict[str, Content], folders: dict[str, Path] | None = None, port: int = 0):
        self.files, self.folders = files, folders or {}
        super().__init__(("127.0.0.1", port), _SiteHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def content(self, path: str) -> Content | None:
        if path in self.files:
            return self.files[path]
        for prefix, folder in self.folders.items():
            if path.startswith(prefix):
                file = (folder / path[len(prefix):]).resolve()
                if file.is_file() and folder.resolve() in file.parents:
                    return file
        return None

    def start(self) -> SiteServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        pass

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        content = self.server.content(path)
        if content is None:
            data, mime, status = f"{path} not found".encode(), "text/plain", 404
        else:
            data = content if isinstance(content, bytes) else content.read_bytes()
            suffix = Path(path).suffix if not path.endswith("/") else ".html"
            mime, status = MIME.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream", 200
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_GET


def serve_preview(run_dir: str | Path, port: int = 8000, node_modules: Path | None = None) -> None:
    """Serve the preview of a run folder on 127.0.0.1:``port`` (0: any free port) until interrupted; with
    ``node_modules`` (a folder where ``npm install @huggingface/transformers@VERSION`` ran) the page loads
    Transformers.js and ONNX Runtime Web from it instead of jsdelivr (offline; the same file, the same hash)."""
    server = SiteServer({}, {"/node_modules/": node_modules} if node_modules else None, port)
    local = {"module_url": f"{server.url}/node_modules/{TRANSFORMERS_JS_FILE}",
             "wasm_url": f"{server.url}/node_modules/onnxruntime-web/dist/"} if node_modules else {}
    try:
        if node_modules and not (node_modules / TRANSFORMERS_JS_FILE).is_file():
            raise UsageError(f"--node-modules {node_modules}: no {TRANSFORMERS_JS_FILE} there (npm install "
                             f"@huggingface/transformers@{TRANSFORMERS_JS_VERSION} in its parent folder)")
        server.files = preview_site(run_dir, server.url, **local)
        print(f"preview of {run_dir}: the model card at {server.url}/ and the demo Space at {server.url}/space/ "
              "(Ctrl-C stops)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
