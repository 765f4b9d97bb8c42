"""Inference speed, size and F1 of a token classifier: PyTorch fp32, the stock optimum int8 path and ours.

    python scripts/bench_inference.py --model-dir RUN_OR_MODEL_DIR --data ../shared/data/conll2003 [--sentences N]

The model call alone (tokenized inputs in, logits out) is timed at batch 1 with 1 thread over test sentences,
fastest of ``--rounds`` rounds per sentence, in two cache regimes measured side by side in the same run:

- warm: each variant runs over all timed sentences in turn, round after round, as a serving process runs one
  model (its weights stay in the CPU caches);
- cold: every variant is called back to back on the same sentence, so each call starts after the others
  have run (PyTorch's and fp32 ONNX's ~90 MB of weights evict an int8 model's ~22 MB from a 32 MB L3).

Ours is built one step at a time (fp32 ONNX, + graph fusion, + dynamic int8 for this CPU's
instruction set, + int8 embeddings, all in a default ONNX Runtime session, then + the hubtools session options
that keep Add + LayerNormalization unfused, then + the split attention and + the dropped padding of
``hubtools.families.token_classification.onnx_graph``) and each step is printed with its ratio to PyTorch and to the
stock path
(optimum export + ``ORTQuantizer`` with ``AutoQuantizationConfig.avx2(is_static=False)``, no graph
optimization). Also printed: end-to-end ``pipeline("ner")`` latency at batch 1 with its ceiling on this CPU (the
pipeline's own time plus the int8 products alone, :func:`products_graph`), its words/s given the timed sentences
as one list (``batch_size=32``, in test order), batch-32 length-sorted throughput (over the timed sentences,
where the few long ones share a batch that is mostly padding, and over the whole test split), the words/s of
tagging the whole test split as ``hubtools predict`` does (int8 against PyTorch), file sizes, and word-level
entity F1 on the whole test split (``--f1-sentences`` to cap it).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnx import ModelProto
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

from hubtools.config import ExportConfig
from hubtools.data.loading import load_local
from hubtools.data.validation import label_names_of
from hubtools.export.inference import (
    feature_logits,
    length_sorted_batches,
    ort_forward,
    pad_batch,
    session_options,
    torch_forward,
)
from hubtools.export.timing import fastest_ms
from hubtools.families.token_classification.export import (
    FP32_FILE,
    detect_instruction_set,
    export_onnx,
    optimize_onnx,
    quantization_config,
    quantize_onnx,
)
from hubtools.families.token_classification.model import effective_max_length
from hubtools.families.token_classification.onnx_graph import rewrite_for_cpu
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.run import machine_description
from hubtools.tokenization import merge_word_predictions, tokenize_dataset
from hubtools.units import file_bytes, megabytes

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


# each of our steps and the one it is measured against
STEPS = {"onnx fp32": "pytorch fp32", "+ graph fusion": "onnx fp32", "+ dynamic int8": "+ graph fusion",
         "+ int8 embeddings": "+ dynamic int8", "+ session options": "+ int8 embeddings",
         "+ split attention": "+ session options", "+ drop padding": "+ split attention"}
OURS = "+ drop padding"
HUBTOOLS_SESSION = ("+ session options", "+ split attention", OURS)  # the others: ONNX Runtime's default session


def one_thread() -> ort.SessionOptions:
    """ONNX Runtime's default session, on one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return options


def build(model_dir: Path, work: Path) -> dict[str, Path]:
    """Every ONNX file: fp32, stock int8 and our steps."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    model = export_onnx(model_dir, work / "fp32")
    ORTQuantizer.from_pretrained(work / "fp32").quantize(AutoQuantizationConfig.avx2(is_static=False),
                                                         save_dir=work / "stock")
    fused = optimize_onnx(model, 1, work / "fused")
    qconfig = quantization_config(ExportConfig(), detect_instruction_set())
    ours = work / "ours"
    shutil.copytree(work / "fp32", ours, ignore=shutil.ignore_patterns("*.onnx"))  # config, tokenizer
    split, rewritten = work / "fused" / "model_split.onnx", work / "fused" / "model_rewritten.onnx"
    rewrite_for_cpu(fused, split, padding=False)
    rewrite_for_cpu(fused, rewritten)
    return {"onnx fp32": work / "fp32" / FP32_FILE,
            "stock int8": work / "stock" / "model_quantized.onnx",
            "+ graph fusion": fused,
            "+ dynamic int8": quantize_onnx(fused, ours / "model_fused_int8.onnx", qconfig, embeddings=False),
            "+ int8 embeddings": quantize_onnx(fused, ours / "model_fused_int8_embeddings.onnx", qconfig,
                                               embeddings=True),
            "+ split attention": quantize_onnx(split, ours / "model_split.onnx", qconfig, embeddings=True),
            OURS: quantize_onnx(rewritten, ours / "model_quantized.onnx", qconfig, embeddings=True)}


def session(path: Path, name: str) -> ort.InferenceSession:
    options = session_options(1) if name in HUBTOOLS_SESSION else one_thread()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def latencies(forwards: dict, rows: list[dict], pad_id: int, rounds: int, warm: bool) -> dict[str, np.ndarray]:
    """Per-sentence fastest batch-1 model call (ms) of every variant: all sentences of one variant in turn
    (``warm``) or every variant on one sentence in turn (cold)."""

    def one_by_one(forward, names) -> Callable[[int], object]:
        batches = [pad_batch([r], names, pad_id) for r in rows]
        return lambda i: forward(batches[i])

    calls = {name: one_by_one(*forward) for name, forward in forwards.items()}
    return fastest_ms(calls, range(len(rows)), rounds, interleave=not warm)


def report(best: dict[str, np.ndarray], regime: str) -> None:
    """One line per variant: p50 and mean latency, ratios of summed latency to PyTorch, stock int8 and the
    previous step."""
    total = {name: float(ms.sum()) for name, ms in best.items()}
    print(f"## {regime}")
    for name in ["pytorch fp32", "stock int8", *STEPS]:
        step = f"  step x{total[STEPS[name]] / total[name]:.2f}" if name in STEPS else ""
        print(f"model call  {name:<18} p50 {np.median(best[name]):7.3f} ms  mean {best[name].mean():7.3f} ms  "
              f"x{total['pytorch fp32'] / total[name]:5.2f} vs PyTorch  "
              f"x{total['stock int8'] / total[name]:5.2f} vs stock int8{step}")


def throughput(forwards: dict, rows: list[dict], words: list[int], pad_id: int, rounds: int) -> dict[str, float]:
    """Words/s of every variant over all rows in length-sorted batches of 32: the fastest of ``rounds`` passes,
    the variants taking turns pass by pass (:func:`fastest_ms` with one item, the whole pass)."""
    order = length_sorted_batches([len(r["input_ids"]) for r in rows], 32)

    def one_pass(forward, names) -> Callable[[object], None]:
        batches = [pad_batch([rows[i] for i in idx], names, pad_id) for idx in order]
        return lambda _: [forward(batch) for batch in batches]

    ms = fastest_ms({name: one_pass(*forward) for name, forward in forwards.items()}, [None], rounds)
    return {name: sum(words) / (float(pass_ms[0]) / 1000) for name, pass_ms in ms.items()}


def tagging_speed(model_dir: Path, int8_file: Path, test, work: Path) -> dict[str, float]:
    """Words/s of tagging the whole test split the way ``hubtools predict`` does (the token classifier's decoder:
    windows, length-sorted batches of 32, one label per word), with the int8 file and with the PyTorch weights,
    1 thread; both read the model as a published folder (weights, tokenizer, ``onnx/``)."""
    from hubtools.tagging import ModelSource, variant_file

    folder = work / "published"
    shutil.copytree(model_dir, folder)
    (folder / "onnx").mkdir()
    shutil.copy(int8_file, folder / "onnx" / variant_file("token-classification", "onnx_int8", str(folder)))
    source = ModelSource(str(folder), folder, folder)
    words = sum(len(tokens) for tokens in test["tokens"])
    speeds = {}
    for variant in ("pytorch", "onnx_int8"):
        tagger = source.decoder(variant, threads=1)
        start = time.perf_counter()
        tagger.tag(test)
        speeds[variant] = words / (time.perf_counter() - start)
    return speeds


FULL_SPLIT_ROUNDS = 3  # passes over the whole test split (about 20 s each for PyTorch on one thread)
GEMM_TOKENS = 640  # rows of the timed product: about a batch of 32 CoNLL sentences


def gemm_rates(hidden: int, intermediate: int, tokens: int = GEMM_TOKENS) -> dict[str, float]:
    """GMAC/s of this CPU on the model's feed-forward product (``tokens`` x hidden by hidden x intermediate,
    about a batch of 32 sentences), 1 thread, fastest of 10: PyTorch fp32, ONNX Runtime fp32 ``MatMul`` and
    ONNX Runtime int8 ``MatMulInteger`` (the kernel under ``DynamicQuantizeMatMul``). Their ratio bounds what
    int8 can gain over PyTorch fp32 on this CPU."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.integers(-127, 128, (hidden, intermediate)).astype(np.int8)
    a32, w32 = torch.randn(tokens, hidden), torch.from_numpy(weight.astype(np.float32))
    calls: dict[str, Callable[[object], object]] = {"pytorch fp32 matmul": lambda _: torch.mm(a32, w32)}
    for name, op, a, w, out in [
        ("onnxruntime fp32 MatMul", "MatMul", a32.numpy(), w32.numpy(), TensorProto.FLOAT),
        ("onnxruntime int8 MatMulInteger", "MatMulInteger", rng.integers(0, 256, (tokens, hidden)).astype(np.uint8),
         weight, TensorProto.INT32),
    ]:
        graph = helper.make_graph(
            [helper.make_node(op, ["a", "w"], ["y"])], "gemm",
            [helper.make_tensor_value_info("a", helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))],
            [helper.make_tensor_value_info("y", out, [tokens, intermediate])], [numpy_helper.from_array(w, "w")])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        sess = ort.InferenceSession(proto.SerializeToString(), one_thread(), providers=["CPUExecutionProvider"])
        calls[name] = lambda _, sess=sess, a=a: sess.run(None, {"a": a})
    macs = tokens * hidden * intermediate
    return {name: macs / float(ms[0]) / 1e6 for name, ms in fastest_ms(calls, [None], 10).items()}


PRODUCT_OPS = ("DynamicQuantizeMatMul", "DynamicQuantizeLinear", "MatMulIntegerToFloat")


def products_graph(model_file: Path, work: Path) -> ModelProto:
    """The int8 model's products alone: ONNX Runtime's own optimized graph of ``model_file`` (hubtools session)
    with every node but the products removed, and every fp32 tensor a product reads made a graph input
    ``rows_WIDTH`` of shape (rows, WIDTH). Raises if a ``MatMulInteger`` of the file is not among them."""
    from onnx import TensorProto, helper, load

    options = session_options(1)
    options.optimized_model_filepath = str(work / "optimized.onnx")
    ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    optimized = load(work / "optimized.onnx")
    weights = {w.name: w for w in optimized.graph.initializer}
    products = [node for node in optimized.graph.node if node.op_type in PRODUCT_OPS]
    int8_products = sum(node.op_type == "MatMulInteger" for node in load(model_file).graph.node)
    if sum(node.op_type != "DynamicQuantizeLinear" for node in products) != int8_products:
        raise RuntimeError(f"{model_file}: ONNX Runtime did not fuse all {int8_products} MatMulInteger nodes into "
                           f"DynamicQuantizeMatMul or MatMulIntegerToFloat")
    quantizer = {out: node for node in products if node.op_type == "DynamicQuantizeLinear" for out in node.output}
    width = {}  # fp32 tensor read by a product -> its width (rows of the weight it multiplies)
    for node in products:
        if node.op_type != "DynamicQuantizeLinear":
            source = quantizer[node.input[0]].input[0] if node.input[0] in quantizer else node.input[0]
            width[source] = weights[node.input[1]].dims[0]
    for node in products:
        if node.op_type != "MatMulIntegerToFloat":
            node.input[0] = f"rows_{width[node.input[0]]}"
    read = {name for node in products for name in node.input}
    inputs = [helper.make_tensor_value_info(f"rows_{w}", TensorProto.FLOAT, ["rows", w]) for w in set(width.values())]
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, None) for node in products
               if node.op_type != "DynamicQuantizeLinear" for out in node.output if out not in read]
    graph = helper.make_graph(products, "products", inputs, outputs, [weights[n] for n in read & weights.keys()])
    return helper.make_model(graph, opset_imports=optimized.opset_import)


def products_alone(model_file: Path, lengths: list[int], rounds: int, work: Path) -> np.ndarray:
    """Per sentence length, the fastest of ``rounds`` runs (ms) of :func:`products_graph` on that many rows: the
    time no graph or session change can take away from a batch-1 call of ``model_file`` on this CPU."""
    proto = products_graph(model_file, work)
    sess = ort.InferenceSession(proto.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = [{i.name: rng.standard_normal((n, i.shape[1])).astype(np.float32) for i in sess.get_inputs()}
             for n in lengths]
    return fastest_ms({"products": lambda feed: sess.run(None, feed)}, feeds, rounds)["products"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="save_pretrained folder or run folder")
    parser.add_argument("--data", required=True, help="folder with CoNLL train/valid/test files")
    parser.add_argument("--sentences", type=int, default=300, help="test sentences timed (default 300)")
    parser.add_argument("--f1-sentences", type=int, default=None, help="test sentences scored (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds per regime (fastest kept)")
    args = parser.parse_args()
    model_dir = Path(args.model_dir)
    if (model_dir / "model" / "config.json").is_file():
        model_dir = model_dir / "model"
    torch.set_num_threads(1)
    test = load_local(args.data)["test"]
    scored = test.select(range(min(args.f1_sentences or len(test), len(test))))
    gold_names = label_names_of(test)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForTokenClassification.from_pretrained(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    features = tokenize_dataset(scored, tokenizer, effective_max_length(model, tokenizer, 512), 32)
    all_rows = features.select_columns([c for c in features.column_names if c in INPUTS]).to_list()
    timed = min(args.sentences, len(scored))
    rows = all_rows[:timed]  # one feature per sentence: CoNLL sentences are far below the window length
    words = [sum(w >= 0 for w in row) for row in features["word_index"][:timed]]
    texts = [" ".join(t) for t in scored["tokens"][:timed]]
    lengths = [len(t) for t in scored["tokens"]]
    pad = tokenizer.pad_token_id or 0
    gold = ids_to_tags(scored["ner_tags"], gold_names)

    def f1(forward, inputs) -> float:
        logits = feature_logits(forward, all_rows, inputs, pad)
        pred = merge_word_predictions([x.argmax(-1) for x in logits], features, lengths)
        return entity_scores(gold, ids_to_tags(pred, names))["f1"] * 100

    with tempfile.TemporaryDirectory() as tmp:
        files = build(model_dir, Path(tmp))
        files["+ session options"] = files["+ int8 embeddings"]
        forwards = {"pytorch fp32": torch_forward(model)}
        forwards.update({name: ort_forward(session(path, name)) for name, path in files.items()})
        mean_len = np.mean([len(r["input_ids"]) for r in rows])
        print(f"# {machine_description()}")
        print(f"# {len(rows)} test sentences, {sum(words)} words, mean {mean_len:.1f} sub-tokens; "
              f"model call, batch 1, 1 thread, fastest of {args.rounds} rounds per sentence; "
              f"instruction set {detect_instruction_set()}")
        rates = gemm_rates(model.config.hidden_size, model.config.intermediate_size)
        print(f"# this CPU on the feed-forward product ({GEMM_TOKENS} x {model.config.hidden_size} by "
              f"{model.config.hidden_size} x {model.config.intermediate_size}), 1 thread: " + ", ".join(
                  f"{name} {rate:.0f} GMAC/s" for name, rate in rates.items())
              + f"; int8 / PyTorch fp32 x{rates['onnxruntime int8 MatMulInteger'] / rates['pytorch fp32 matmul']:.2f}")
        warm = latencies(forwards, rows, pad, args.rounds, warm=True)
        report(warm, "warm: each variant over all sentences in turn (a serving process)")
        report(latencies(forwards, rows, pad, args.rounds, warm=False),
               "cold: all variants back to back on each sentence (caches hold the other models' weights)")
        from optimum.onnxruntime import ORTModelForTokenClassification

        pipes = {"pytorch fp32": pipeline("ner", model=model, tokenizer=tokenizer, aggregation_strategy="simple")}
        for label, folder, options in [("stock int8", files["stock int8"].parent, one_thread()),
                                       ("ours int8", files[OURS].parent, session_options(1))]:
            ort_model = ORTModelForTokenClassification.from_pretrained(
                folder, file_name="model_quantized.onnx", session_options=options)
            pipes[label] = pipeline("ner", model=ort_model, tokenizer=tokenizer, aggregation_strategy="simple")
        e2e = {name: float(ms.mean()) for name, ms in fastest_ms(pipes, texts, args.rounds).items()}
        print(f"pipeline('ner', aggregation_strategy='simple'), batch 1, 1 thread, fastest of {args.rounds} rounds "
              "per sentence, ms/sentence: " + "  ".join(
                  f"{k} {v:.2f} (x{e2e['pytorch fp32'] / v:.2f} vs PyTorch)" for k, v in e2e.items()))
        own = e2e["ours int8"] - float(warm[OURS].mean())
        floor = float(products_alone(files[OURS], [len(r["input_ids"]) for r in rows], args.rounds, Path(tmp)).mean())
        print(f"pipeline('ner') batch-1 ceiling: the pipeline's own work (its time minus the ours int8 model call) "
              f"{own:.2f} ms/sentence, the int8 products alone {floor:.2f} ms (ONNX Runtime's optimized graph of ours "
              f"with every other node removed): with every other op free, at most "
              f"x{e2e['pytorch fp32'] / (own + floor):.2f} vs PyTorch")
        # as a user batches a list: sentences in their order, so a batch pads to its longest sentence
        split_model = ORTModelForTokenClassification.from_pretrained(
            files[OURS].parent, file_name=files["+ split attention"].name, session_options=session_options(1))
        pipes["ours int8, padding kept"] = pipeline("ner", model=split_model, tokenizer=tokenizer,
                                                    aggregation_strategy="simple")
        listed = fastest_ms({name: (lambda _, p=p: p(texts, batch_size=32)) for name, p in pipes.items()}, [None],
                            args.rounds)
        listed_speed = {name: sum(words) / (float(ms[0]) / 1000) for name, ms in listed.items()}
        print(f"pipeline('ner') over the {timed} timed sentences in test order, batch_size=32, 1 thread, fastest of "
              f"{args.rounds} passes, words/s: " + "  ".join(
                  f"{k} {v:.0f} (x{v / listed_speed['pytorch fp32']:.2f} vs PyTorch)" for k, v in listed_speed.items()))
        batched = {name: forwards[name] for name in ("pytorch fp32", "stock int8", "+ split attention", OURS)}
        all_words = [sum(w >= 0 for w in row) for row in features["word_index"]]
        for sample, sample_rows, sample_words, rounds in [
                (f"the {timed} timed sentences", rows, words, args.rounds),
                (f"all {len(all_rows)} test sentences", all_rows, all_words, min(args.rounds, FULL_SPLIT_ROUNDS))]:
            speeds = throughput(batched, sample_rows, sample_words, pad, rounds)
            for name, speed in speeds.items():
                print(f"throughput batch 32 length-sorted, {sample}, 1 thread, fastest of {rounds} passes  "
                      f"{name:<18} {speed:8.0f} words/s  x{speed / speeds['pytorch fp32']:.2f} vs PyTorch")
        tagged = tagging_speed(model_dir, files[OURS], scored, Path(tmp))
        print(f"tagging all {len(scored)} test sentences as hubtools predict does (tokenize, batches of 32, words), "
              f"1 thread: pytorch {tagged['pytorch']:.0f} words/s, onnx_int8 {tagged['onnx_int8']:.0f} words/s "
              f"(x{tagged['onnx_int8'] / tagged['pytorch']:.2f})")
        fp32 = file_bytes(files["onnx fp32"])
        for name in ("stock int8", "+ dynamic int8", "+ split attention", OURS):
            size = file_bytes(files[name])
            print(f"size  {name:<18} {megabytes(size):>6} MB = {size / fp32:5.1%} of fp32 ONNX ({megabytes(fp32)} MB)")
        reference = f1(*forwards["pytorch fp32"])
        for name in ("onnx fp32", "stock int8", "+ graph fusion", "+ dynamic int8", "+ int8 embeddings",
                     "+ split attention", OURS):
            score = f1(*forwards[name])
            print(f"entity F1 on {len(scored)} test sentences  {name:<18} {score:6.2f}  "
                  f"({score - reference:+.2f} points vs PyTorch {reference:.2f})")

if __name__ == "__main__":
    main()
