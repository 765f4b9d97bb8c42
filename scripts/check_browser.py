"""Run the published ONNX files with Transformers.js in headless Chromium (onnxruntime-web, wasm backend) and
compare them word by word with the Python pipeline of the same repo.

    python scripts/check_browser.py RUN_DIR [--sentences 40] [--variants default,q8,fp32,int8-embeddings]
    python scripts/check_browser.py --endpoint http://127.0.0.1:PORT --repo NS/NAME --dataset-repo-id NS/DATA

With RUN_DIR it starts the test Hub server (tests/hub_server.py) on 127.0.0.1 and publishes the run there with
`hubtools push`; with --endpoint/--repo it uses an already running 127.0.0.1 server (the test sentences come
from the dataset repo's test.parquet). A second server on another 127.0.0.1 port serves the page and
tests/js/node_modules (the Transformers.js web build `dist/transformers.web.js` with onnxruntime-web from
node_modules through an import map; the wasm files from node_modules too, never a CDN), so every model file
crosses origins as on the web (the Hub server answers CORS). The page runs `pipeline("token-classification",
REPO, {device: "wasm", ...})` for each variant and POSTs its per-token output back. Chromium runs headless
with a throwaway profile; --host-resolver-rules makes every host name but 127.0.0.1 unresolvable, and both
servers log what they were asked.

Needs `scripts/setup.sh --dev` (tests/js/node_modules) and Chromium (Debian: `apt-get install -y chromium`).
Exit status: 0 when every variant agrees on every word with Python ONNX Runtime on the same file (and fp32
with PyTorch), 1 otherwise, 2 when something could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from transformers_js import (  # noqa: E402 - tests/ is put on the path above
    JS_DIR,
    JS_VARIANTS,
    TransformersJsMissing,
    check_same_tokens,
    compare,
    js_tokens,
    python_reference,
    require_transformers_js,
    sentence_text,
)

# The browser's variants: the default (no dtype: device wasm picks q8) and the files of JS_VARIANTS.
BROWSER_VARIANTS = {"default": {}, "q8": {"dtype": "q8"}, "fp32": {"dtype": "fp32"},
                    "int8-embeddings": {"dtype": "fp32", "model_file_name": "model_quantized_embeddings"}}
EXPECTED_FILE = {"default": "onnx/model_quantized.onnx", **{k: f for k, (_, f) in JS_VARIANTS.items()}}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                  "--disable-extensions", "--disable-default-apps", "--metrics-recording-only",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nerhub: Transformers.js in the browser</title>
<script type="importmap">
{"imports": {
  "@huggingface/transformers": "/node_modules/@huggingface/transformers/dist/transformers.web.js",
  "onnxruntime-web/webgpu": "/node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs",
  "onnxruntime-common": "/node_modules/onnxruntime-common/dist/esm/index.js"
}}
</script></head>
<body><pre id="status">running</pre>
<script type="module">
const post = (path, body) => fetch(path, {method: "POST", body: JSON.stringify(body)});
const logs = [];
for (const level of ["log", "info", "warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => { logs.push(`${level}: ${args.map(String).join(" ")}`); original(...args); };
}
addEventListener("error", (e) => post("/result", {error: String(e.message), logs}));
addEventListener("unhandledrejection", (e) => post("/result", {error: String(e.reason?.stack ?? e.reason), logs}));
const {env, pipeline} = await import("@huggingface/transformers");
const job = await (await fetch("/job.json")).json();
env.remoteHost = job.endpoint + "/";
env.remotePathTemplate = "{model}/resolve/{revision}/";
env.allowLocalModels = false;
env.useBrowserCache = false;
env.backends.onnx.wasm.numThreads = 1;
env.backends.onnx.wasm.wasmPaths = {
  mjs: location.origin + "/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs",
  wasm: location.origin + "/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm",
};
let files = [];
const baseFetch = env.fetch;
env.fetch = async (url, init) => {
  const text = String(url), marker = "/resolve/main/", at = text.indexOf(marker);
  files.push(at >= 0 ? decodeURIComponent(text.slice(at + marker.length)) : text);
  return baseFetch(url, init);
};
const out = {transformers_js: env.version, onnxruntime: {...env.backends.onnx.versions},
             userAgent: navigator.userAgent, crossOriginIsolated, variants: {}};
for (const [name, options] of Object.entries(job.variants)) {
  files = [];
  document.getElementById("status").textContent = `running ${name}`;
  const started = performance.now();
  const ner = await pipeline("token-classification", job.repo, {device: "wasm", ...options});
  const results = [];
  for (const sentence of job.sentences) {
    const {input_ids} = ner.tokenizer(sentence, {truncation: true});
    const tokens = await ner(sentence, {ignore_labels: []});
    results.push({input_ids: input_ids.tolist()[0].map(Number),
                  tokens: tokens.map(({index, entity, score, word}) => ({index, entity, score, word}))});
  }
  out.variants[name] = {options, files, results, seconds: (performance.now() - started) / 1000};
  await ner.dispose();
}
try {  // the opset-23 Attention op alone, straight through the onnxruntime-web module Transformers.js uses
  const ort = await import("onnxruntime-web/webgpu");
  const model = new Uint8Array(await (await fetch("/probe/attention23.onnx")).arrayBuffer());
  const session = await ort.InferenceSession.create(model, {executionProviders: ["wasm"]});
  const feeds = {};
  for (const [name, values] of Object.entries(job.probe.inputs)) {
    feeds[name] = new ort.Tensor("float32", Float32Array.from(values), job.probe.dims);
  }
  const {Y} = await session.run(feeds);
  out.probe = {Y: Array.from(Y.data), dims: Y.dims};
} catch (e) {
  out.probe = {error: String(e?.stack ?? e)};
}
out.logs = logs;
await post("/result", out);
document.getElementById("status").textContent = "done";
</script></body></html>
"""

MIME = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
        ".html": "text/html; charset=utf-8", ".map": "application/json"}


class PageServer:
    """The page, tests/js/node_modules and the job on 127.0.0.1; receives the page's result (POST /result)."""

    def __init__(self, job: dict, probe_model: bytes):
        self.job, self.probe_model, self.result, self.requests = job, probe_model, None, []
        self.done = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def answer(self, status: int, data: bytes, mime: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                server.requests.append(f"GET {path}")
                if path in ("/", "/index.html"):
                    return self.answer(200, PAGE.encode(), MIME[".html"])
                if path == "/job.json":
                    return self.answer(200, json.dumps(server.job).encode(), MIME[".json"])
                if path == "/probe/attention23.onnx":
                    return self.answer(200, server.probe_model, "application/octet-stream")
                if path.startswith("/node_modules/"):
                    file = (JS_DIR / path.lstrip("/")).resolve()
                    if file.is_file() and (JS_DIR / "node_modules").resolve() in file.parents:
                        return self.answer(200, file.read_bytes(), MIME.get(file.suffix, "application/octet-stream"))
                return self.answer(404, b"not found")

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                server.requests.append(f"POST {path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/result" and server.result is None:
                    server.result = json.loads(body)
                    server.done.set()
                self.answer(204, b"")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # Chromium closing its connections
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def attention_probe() -> tuple[bytes, dict, list[float]]:
    """A one-node model: the standard ONNX `Attention` op at opset 23 (the op of the int8 files), its inputs and
    the expected output (numpy): (model bytes, {"inputs", "dims"}, flat expected output)."""
    import numpy as np
    from onnx import TensorProto, helper

    dims = [1, 5, 8]  # batch, sequence, 2 heads x 4
    node = helper.make_node("Attention", ["Q", "K", "V"], ["Y"], q_num_heads=2, kv_num_heads=2)
    graph = helper.make_graph([node], "attention23",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n in "QKV"],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], ir_version=8)
    rng = np.random.default_rng(0)
    inputs = {n: rng.standard_normal(dims, dtype=np.float32) for n in "QKV"}
    q, k, v = (inputs[n].reshape(1, 5, 2, 4).transpose(0, 2, 1, 3) for n in "QKV")
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(4)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = (weights @ v).transpose(0, 2, 1, 3).reshape(dims)
    job = {"inputs": {n: x.ravel().tolist() for n, x in inputs.items()}, "dims": dims}
    return model.SerializeToString(), job, expected.ravel().tolist()


def start_hub(root: Path) -> tuple[subprocess.Popen, str, str]:
    """tests/hub_server.py on 127.0.0.1 (ephemeral port) with one writer, `local`: (process, endpoint, token)."""
    token = f"hf_w{secrets.token_hex(12)}"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "hub_server.py"), "--port=0",
                             f"--root={root}", f"--user=local:{token}:write"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"check_browser: error: the test Hub server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}", token


def hub_requests(endpoint: str) -> list[dict] | None:
    """The request log of a tests/hub_server.py (None for another server)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint}/_test/requests", timeout=10) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def client_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home / "hf_home"), HF_HUB_DISABLE_XET="1",
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)
    return env


def chromium_binary(given: str | None) -> str:
    for name in [given] if given else ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    raise SystemExit("check_browser: error: no Chromium found (Debian: apt-get install -y chromium; or --chromium)")


def run_browser(chromium: str, url: str, page: PageServer, profile: Path, timeout: float) -> tuple[dict, str]:
    """Open `url` in headless Chromium until the page posts its result; returns (result, Chromium's stderr)."""
    log = profile.parent / "chromium.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            if not page.done.wait(timeout):
                raise SystemExit(f"check_browser: error: no result from the page in {timeout:.0f} s "
                                 f"(Chromium log: {log.read_text()[-2000:]})")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the process group of the Chromium this script started
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return page.result, log.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="an exported run folder (published to a local Hub)")
    parser.add_argument("--endpoint", help="a running 127.0.0.1 Hub server (with --repo)")
    parser.add_argument("--repo", help="model repo id on --endpoint")
    parser.add_argument("--dataset-repo-id", help="dataset repo on --endpoint (its test.parquet gives the sentences)")
    parser.add_argument("--sentences", type=int, default=40, help="first N test sentences (default 40)")
    parser.add_argument("--variants", default=",".join(BROWSER_VARIANTS),
                        help=f"comma-separated, of {','.join(BROWSER_VARIANTS)}")
    parser.add_argument("--chromium", help="the Chromium binary (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the page")
    parser.add_argument("--json", type=Path, help="also write the page's raw output and the comparison here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := [v for v in variants if v not in BROWSER_VARIANTS]:
        parser.error(f"unknown variants {unknown}")
    if bool(args.run_dir) == bool(args.endpoint or args.repo):
        parser.error("give either RUN_DIR or --endpoint and --repo")
    try:
        require_transformers_js()
    except TransformersJsMissing as err:
        print(f"check_browser: error: {err}", file=sys.stderr)
        return 2
    chromium = chromium_binary(args.chromium)

    import pandas as pd
    from huggingface_hub import hf_hub_download

    work = Path(tempfile.mkdtemp(prefix="check_browser-"))
    hub = None
    try:
        if args.run_dir:
            run = args.run_dir.resolve()
            hub, endpoint, token = start_hub(work / "hub")
            repo_id, dataset_repo = f"local/{run.name}", f"local/{run.name}-data"
            push = subprocess.run([sys.executable, "-m", "hubtools", "push", str(run), "--repo-id", repo_id,
                                   "--dataset-repo-id", dataset_repo], cwd=ROOT, capture_output=True, text=True,
                                  env=client_env(endpoint, work, HF_TOKEN=token), timeout=600)
            if push.returncode != 0:
                print(f"check_browser: error: hubtools push failed:\n{push.stderr[-3000:]}", file=sys.stderr)
                return 2
            test_file = run / "dataset" / "test.parquet"
        else:
            endpoint, repo_id = args.endpoint.rstrip("/"), args.repo
            if urlsplit(endpoint).hostname != "127.0.0.1":
                parser.error("--endpoint must be a 127.0.0.1 server (the browser reaches nothing else)")
            if not args.dataset_repo_id:
                parser.error("--endpoint/--repo needs --dataset-repo-id (the test sentences)")
            test_file = Path(hf_hub_download(args.dataset_repo_id, "test.parquet", repo_type="dataset",
                                             endpoint=endpoint, cache_dir=work / "cache"))
        words = [list(w) for w in pd.read_parquet(test_file)["tokens"][: args.sentences]]
        sentences = [sentence_text(w) for w in words]

        probe_model, probe_job, probe_expected = attention_probe()
        job = {"endpoint": endpoint, "repo": repo_id, "sentences": sentences,
               "variants": {v: BROWSER_VARIANTS[v] for v in variants}, "probe": probe_job}
        page = PageServer(job, probe_model)
        hub_before = len(hub_requests(endpoint) or [])
        started = time.time()
        result, chromium_log = run_browser(chromium, page.url + "/", page, work / "profile", args.timeout)
        browser_s = time.time() - started
        hub_log = hub_requests(endpoint)
        hub_log = hub_log[hub_before:] if hub_log is not None else None
        page.close()
        version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
        if "error" in result:
            print(f"check_browser: the page failed: {result['error']}", file=sys.stderr)
            print("\n".join(result.get("logs", [])[-30:]), file=sys.stderr)
            return 1

        files = sorted({EXPECTED_FILE[v] for v in variants})
        reference = python_reference(repo_id, sentences, files, client_env(endpoint, work / "python"))
        print(f"Chromium: {version} (headless, page done in {browser_s:.0f} s); {result['userAgent']}")
        print(f"Transformers.js {result['transformers_js']} (dist/transformers.web.js), onnxruntime-web "
              f"{result['onnxruntime'].get('web')}, backend wasm, crossOriginIsolated={result['crossOriginIsolated']}")
        print(f"Python: {reference['versions']}; {len(sentences)} test sentences, {sum(map(len, words))} words")
        wasm = sorted({r.split("/")[-1] for r in page.requests if r.endswith((".wasm", ".mjs"))})
        print(f"page server (127.0.0.1): {len(page.requests)} requests, onnxruntime-web files {wasm}")
        if hub_log is not None:
            failed = sorted({f"{r['status']} {r['path']}" for r in hub_log if r["status"] >= 400})
            print(f"Hub server (127.0.0.1), the browser's requests: {len(hub_log)} "
                  f"({sum(r['method'] == 'OPTIONS' for r in hub_log)} CORS preflights); answered >= 400: "
                  f"{failed or 'none'}")
        ok = True
        probe = result.get("probe", {})
        if "error" in probe:
            print(f"\nopset-23 Attention alone in onnxruntime-web (wasm): FAILED: {probe['error']}")
            ok = False
        else:
            diff = max(abs(a - b) for a, b in zip(probe["Y"], probe_expected, strict=True))
            print(f"\nopset-23 Attention alone in onnxruntime-web (wasm): ran, max |diff| vs numpy {diff:.2e}")
            ok = ok and diff < 1e-4
        report = {"browser": version, "page": result, "comparisons": {}}
        for name in variants:
            got = result["variants"][name]
            onnx = [f for f in got["files"] if f.endswith(".onnx")]
            expected = EXPECTED_FILE[name]
            same_tokens = check_same_tokens(reference["encodings"], got["results"])
            print(f"\n[{name}] options {got['options']}: loaded {onnx} ({got['seconds']:.1f} s)")
            if onnx != [expected]:
                print(f"  FAIL: expected {expected}")
                ok = False
            if same_tokens:
                print(f"  FAIL: tokenized differently from Python: {same_tokens[:3]}")
                ok = False
                continue
            js = js_tokens(got["results"])
            pairs = [(f"Python ONNX Runtime {expected}", reference["pipelines"][expected]),
                     ("PyTorch", reference["pipelines"]["pytorch"])]
            for other_name, other in pairs:
                agreement = compare(f"browser {name} vs {other_name}", words, reference["encodings"], js, other)
                print(f"  {agreement.line()}")
                report["comparisons"][agreement.name] = {"fraction": agreement.fraction, "words": agreement.words,
                                                         "max_score_diff": agreement.max_score_diff,
                                                         "disagreements": agreement.disagreements}
                must_agree = other_name != "PyTorch" or expected == "onnx/model.onnx"
                if must_agree and agreement.fraction != 1.0:
                    print(f"  FAIL: {agreement.disagreements}")
                    ok = False
        warnings = [line for line in result.get("logs", []) if line.startswith(("warn", "error"))]
        if warnings:
            print("\npage console warnings/errors:\n  " + "\n  ".join(warnings[:20]))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        print("\nOK: every variant ran in the browser and agrees" if ok else "\nFAILED")
        return 0 if ok else 1
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
