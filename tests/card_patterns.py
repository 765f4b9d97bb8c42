"""Golden patterns of the finer tiny run's cards, matched with ``re.fullmatch`` (SpanMarker's model_card_pattern
style). The text is literal except for these markers: ``«n»`` a number, ``«line»`` the rest of a line, ``«rows»``
one or more table rows, ``«rows?»`` any number of them. Numbers a run measures are never written here: only
the run's own structure is."""

from __future__ import annotations

import re

NUMBER = r"-?[\d.]+(?:e-?\d+)?"
MARKERS = {"«n»": NUMBER, "«line»": r"[^\n]*", "«rows»": r"(?:\|[^\n]*\|\n)+", "«rows?»": r"(?:\|[^\n]*\|\n)*"}


def compile_pattern(text: str) -> re.Pattern:
    """The regex of a card text written with the markers above (everything else literal)."""
    parts = re.split("(«n»|«line»|«rows\\??»)", text)
    return re.compile("".join(MARKERS.get(part, re.escape(part)) for part in parts), re.DOTALL)


VERSIONS = """### Framework versions

| Package | Version |
|---|---|
«rows»"""

def index_entry(name: str, dataset_type: str) -> str:
    """One model-index result of the pattern: the dataset and the four test metrics."""
    return f"""  - task:
      type: token-classification
      name: Named Entity Recognition
    dataset:
      name: {name}
      type: {dataset_type}
      split: test
    metrics:
    - type: f1
      value: «n»
      name: Test F1
    - type: precision
      value: «n»
      name: Test Precision
    - type: recall
      value: «n»
      name: Test Recall
    - type: accuracy
      value: «n»
      name: Test Accuracy
"""


MODEL_CARD_TEXT = """---
datasets:
- acme/finer-data
language:
- en
library_name: transformers
license: cc-by-sa-4.0
metrics:
- f1
- precision
- recall
- accuracy
pipeline_tag: token-classification
tags:
- token-classification
- ner
- finance
- xbrl
- financial-ner
- onnx
widget:
- text: The Company recorded amortization expense of $ 12.3 million for the year ended
    December 31 , 2019 .
- text: The notes bear interest at a fixed rate of 5.25 % per annum .
model-index:
- name: finer-tiny-ner
  results:
""" + index_entry("finer-selected-4-labels", "acme/finer-data") + """---

# finer-tiny-ner

Tags four XBRL entity types on numeric tokens of financial filings (10-K / 10-Q sentences).

This transformers model tags 4 types of named entities
(token classification). It is a DistilBertForTokenClassification trained from scratch on [finer-selected-4-labels](https://huggingface.co/datasets/acme/finer-data) and reaches an entity-level F1 of
«n» on its test split («n» sentences, «n» words).

## Model details

| Property | Value |
|---|---|
| Architecture | DistilBertForTokenClassification |
| Parameters | «n» |
| Base model | none (trained from scratch) |
| Maximum sequence length | 128 tokens (longer sentences are split into windows with a stride of 16) |
| Language | en |
| License | cc-by-sa-4.0 |
| Recipe | `finer` |

## Labels

Tags follow the IOB2 scheme (`B-` begins an entity, `I-` continues it, `O` is outside any entity).

| Id | Label |
|---:|---|
| 0 | O |
| 1 | B-Revenues |
| 2 | I-Revenues |
| 3 | B-DebtInstrumentFaceAmount |
| 4 | I-DebtInstrumentFaceAmount |
| 5 | B-LineOfCreditFacilityMaximumBorrowingCapacity |
| 6 | I-LineOfCreditFacilityMaximumBorrowingCapacity |
| 7 | B-IncomeTaxExpenseBenefit |
| 8 | I-IncomeTaxExpenseBenefit |

## Intended uses and limitations

Use it to find the 4 entity types above in text (language:
en) that resembles its training data, finer-selected-4-labels.
It knows no other entity types: anything else is tagged `O`. The scores below were measured on words of the held-out
test split of the same dataset; expect lower scores on text from other sources, periods or domains.

## How to use

```python
from transformers import pipeline

ner = pipeline("token-classification", model="acme/finer-tiny-ner", aggregation_strategy="first")
ner("The Company recorded amortization expense of $ 12.3 million for the year ended December 31 , 2019 .")
```

The model was trained with the label on the first sub-token of each word, so `aggregation_strategy="first"`
gives one label per word.

With ONNX Runtime through [Optimum](https://huggingface.co/docs/optimum-onnx):

```python
import onnxruntime as ort
from optimum.onnxruntime import ORTModelForTokenClassification
from transformers import AutoTokenizer, pipeline

options = ort.SessionOptions()  # on CPU, keep Add + LayerNormalization apart: faster, short or long
options.add_session_config_entry("optimization.disable_specified_optimizers", "SkipLayerNormFusion")
model = ORTModelForTokenClassification.from_pretrained("acme/finer-tiny-ner", subfolder="onnx", file_name="model_quantized_embeddings.onnx", session_options=options)
tokenizer = AutoTokenizer.from_pretrained("acme/finer-tiny-ner", subfolder="onnx")
ner = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first")
```

`model_quantized_embeddings.onnx` computes attention with the standard ONNX `Attention` op (opset 23): it needs
onnxruntime 1.23 or newer.

### Transformers.js

The ONNX files run in JavaScript, in browsers (ONNX Runtime Web, WebAssembly) and in Node.js (ONNX Runtime Node),
with [Transformers.js](https://huggingface.co/docs/transformers.js) 4.0 or newer (`npm install @huggingface/transformers`):

```js
import { pipeline } from "@huggingface/transformers";

const ner = await pipeline("token-classification", "acme/finer-tiny-ner");
const tokens = await ner("The Company recorded amortization expense of $ 12.3 million for the year ended December 31 , 2019 .");
// one { entity, score, index, word } per sub-token; { ignore_labels: [] } keeps the "O" ones too
```

Without options the pipeline loads `onnx/model_quantized.onnx` (int8, `dtype: "q8"`) in browsers (device `wasm`)
and `onnx/model.onnx` (fp32, `dtype: "fp32"`) in Node.js (device `cpu`).
The third argument of `pipeline` chooses the file:

| File | Options |
|---|---|
| `onnx/model.onnx` | `{ dtype: "fp32" }` |
| `onnx/model_quantized.onnx` | `{ dtype: "q8" }` |
| `onnx/model_quantized_embeddings.onnx` | `{ dtype: "fp32", model_file_name: "model_quantized_embeddings" }` |

e.g. `pipeline("token-classification", "acme/finer-tiny-ner", { dtype: "fp32", model_file_name: "model_quantized_embeddings" })`
for the smallest file, `onnx/model_quantized_embeddings.onnx`. The model was trained with the label on the first sub-token of each word:
read a word's label from its first sub-token (`index` is the token's position, `word` the sub-token).
The int8 files compute attention with the standard ONNX `Attention` op (opset 23), which needs ONNX Runtime 1.23 or
newer: Transformers.js 4 brings it (onnxruntime-node and onnxruntime-web); Transformers.js 3 (ONNX Runtime 1.21/1.22)
can load only `onnx/model.onnx`.

## Training data

[finer-selected-4-labels](https://huggingface.co/datasets/acme/finer-data): «n» training, «n» validation and
«n» test sentences. The dataset card explains how it was built from
`generate:finer-139`.

## Training procedure

### Hyperparameters

| Hyperparameter | Value |
|---|---|
| learning_rate | 0.001 |
| train_batch_size | 16 |
| eval_batch_size | 64 |
| seed | 42 |
| optimizer | Use OptimizerNames.ADAMW_TORCH_FUSED with betas=(0.9,0.999) and epsilon=1e-08 and optimizer_args=No additional optimizer arguments |
| lr_scheduler_type | linear |
| lr_scheduler_warmup_ratio | 0.1 |
| num_epochs | 4 |
«rows?»| max_length | 128 |
| stride | 16 |
| from_scratch.dim | 128 |
| from_scratch.n_layers | 2 |
| from_scratch.n_heads | 4 |
| from_scratch.hidden_dim | 256 |
| from_scratch.max_position_embeddings | 256 |

Trained on cpu (1 process, «line») in «n» s.

### Training results

| Epoch | Step | Training loss | Validation loss | Precision | Recall | F1 | Accuracy |
|---:|---:|---:|---:|---:|---:|---:|---:|
| 1.0 | «n» | «n» | «n» | «n» | «n» | «n» | «n» |
| 2.0 | «n» | «n» | «n» | «n» | «n» | «n» | «n» |
| 3.0 | «n» | «n» | «n» | «n» | «n» | «n» | «n» |
| 4.0 | «n» | «n» | «n» | «n» | «n» | «n» | «n» |

![Training curves](plots/training_curves.png)

## Evaluation

Entity-level scores (seqeval) on the test split: «n» sentences, «n» words.

| Split | Precision | Recall | F1 | Accuracy |
|---|---:|---:|---:|---:|
| test | «n» | «n» | «n» | «n» |

Per entity type:

| Entity type | Precision | Recall | F1 | Support |
|---|---:|---:|---:|---:|
| DebtInstrumentFaceAmount | «n» | «n» | «n» | «n» |
| IncomeTaxExpenseBenefit | «n» | «n» | «n» | «n» |
| LineOfCreditFacilityMaximumBorrowingCapacity | «n» | «n» | «n» | «n» |
| Revenues | «n» | «n» | «n» | «n» |

![Confusion matrix](plots/confusion_matrix.png)

## ONNX export

The `onnx/` folder holds ONNX Runtime versions of the model, each checked against the PyTorch model on the
«n» test sentences: entity-level F1 (PyTorch: «n»), the fraction of words
predicted exactly as PyTorch predicts them (agreement) and the largest absolute difference of a logit. A variant
that failed verification is not published.

| Variant | File | F1 | Agreement | Max abs logit diff | Size (MB) | Verification |
|---|---|---:|---:|---:|---:|---|
| onnx | [model.onnx](onnx/model.onnx) | «n» | 1.0000 | «n» | «n» | passed |
| onnx_int8 | [model_quantized.onnx](onnx/model_quantized.onnx) | «n» | «n» | «n» | «n» | passed |
| onnx_int8_embeddings | [model_quantized_embeddings.onnx](onnx/model_quantized_embeddings.onnx) | «n» | «n» | «n» | «n» | passed |

### Benchmark

Measured on «line» (ONNX Runtime sessions with the options shown under How to use).

| Variant | Threads | Latency p50 (ms) | Latency p95 (ms) | Throughput (words/s) | Size (MB) | Peak RSS (MB) |
|---|---:|---:|---:|---:|---:|---:|
«rows»
![Benchmark](plots/benchmark.png)

## Reproduce

```bash
python recipes/finer.py --preset tiny --output-dir PATH/run --no-export training.num_train_epochs=4 training.per_device_train_batch_size=16
```

""" + VERSIONS
MODEL_CARD = compile_pattern(MODEL_CARD_TEXT)

# the same card after `hubtools evaluate RUN --data other-finer --label-map Revenues=REV` (tests/test_cards.py):
# one further model-index dataset and the cross-dataset section after Evaluation
OTHER_DATASET = index_entry("other-finer", "other-finer")
CROSS_EVALUATION = """## Evaluation on other datasets

Entity-level scores (seqeval, on words) of this model on datasets it was not trained on (`hubtools evaluate`).
Only the entity types the model and a dataset share are scored, matched by name or by the label map shown
(model type -> dataset type); a type only one side has is set to `O` before scoring, so it counts neither as a
hit nor as a miss, and is listed below with its entity count.

| Dataset | Split | Variant | Sentences | Words | Precision | Recall | F1 | Accuracy |
|---|---|---|---:|---:|---:|---:|---:|---:|
| other-finer | test | pytorch | «n» | «n» | «n» | «n» | «n» | «n» |

Scored entity types:

| Dataset | Split | Variant | Entity type | Precision | Recall | F1 | Support |
|---|---|---|---|---:|---:|---:|---:|
| other-finer | test | pytorch | DebtInstrumentFaceAmount | «n» | «n» | «n» | «n» |
| other-finer | test | pytorch | Revenues -> REV | «n» | «n» | «n» | «n» |

Entity types not scored:

| Dataset | Split | Variant | Entity type | Only in | Entities set to O |
|---|---|---|---|---|---:|
| other-finer | test | pytorch | LineOfCreditFacilityMaximumBorrowingCapacity | the model | «n» predicted |
| other-finer | test | pytorch | IncomeTaxExpenseBenefit | the model | «n» predicted |
| other-finer | test | pytorch | DATE | the dataset | «n» gold |

## ONNX export
"""
FRONT_MATTER_END = "      name: Test Accuracy\n---\n"
MODEL_CARD_EVALUATED = compile_pattern(MODEL_CARD_TEXT.replace(
    FRONT_MATTER_END, FRONT_MATTER_END.replace("---", OTHER_DATASET + "---"), 1).replace(
    "## ONNX export\n", CROSS_EVALUATION, 1))


DATASET_CARD = compile_pattern("""---
language:
- en
license: cc-by-sa-4.0
size_categories:
- 1K<n<10K
task_categories:
- token-classification
task_ids:
- named-entity-recognition
pretty_name: finer-selected-4-labels
tags:
- finance
- xbrl
- financial-ner
configs:
- config_name: default
  data_files:
  - split: train
    path: train.parquet
  - split: validation
    path: validation.parquet
  - split: test
    path: test.parquet
---

# finer-selected-4-labels

Tags four XBRL entity types on numeric tokens of financial filings (10-K / 10-Q sentences).

A named entity recognition dataset with 4 entity types, built from
`generate:finer-139` by the nerhub `finer` recipe.
The model trained on it is [acme/finer-tiny-ner](https://huggingface.co/acme/finer-tiny-ner).

## Dataset structure

| Feature | Type |
|---|---|
| tokens | sequence of strings (words) |
| ner_tags | sequence of class labels (the names below) |

## Labels

Tags follow the IOB2 scheme (`B-` begins an entity, `I-` continues it, `O` is outside any entity).

| Id | Label |
|---:|---|
| 0 | O |
| 1 | B-Revenues |
| 2 | I-Revenues |
| 3 | B-DebtInstrumentFaceAmount |
| 4 | I-DebtInstrumentFaceAmount |
| 5 | B-LineOfCreditFacilityMaximumBorrowingCapacity |
| 6 | I-LineOfCreditFacilityMaximumBorrowingCapacity |
| 7 | B-IncomeTaxExpenseBenefit |
| 8 | I-IncomeTaxExpenseBenefit |

### Splits

| Split | Sentences | Revenues | DebtInstrumentFaceAmount | LineOfCreditFacilityMaximumBorrowingCapacity | IncomeTaxExpenseBenefit |
|---|---:|---:|---:|---:|---:|
| train | «n» | «n» | «n» | «n» | «n» |
| validation | «n» | «n» | «n» | «n» | «n» |
| test | «n» | «n» | «n» | «n» | «n» |

Entities per split:

![Entity distribution](entity_distribution.png)

## How it was built

- Source: `generate:finer-139` (no revision pinned).
- Sentences without any selected entity dropped: «n».
- Split: Stratified by entity type: each sentence's stratum is the rarest entity type it contains (fewest sentences overall, ties by name), or 'none'. Within each stratum sentences are shuffled with seed 42 and cut by the ratios (0.8, 0.1, 0.1); leftover sentences go to the splits with the largest remainders so that split sizes match the ratios within one sentence.

### Label selection

Entity types are ranked by entity (span) count, ties by name. The 4 selected types are the first window of 4 consecutive types in that ranking whose largest count is at most 3 times its smallest, i.e. the most frequent types that are about equally represented; if no window qualifies, the window with the smallest max/min ratio (earliest on ties).

| Source type | Published type |
|---|---|
| Revenues | Revenues |
| DebtInstrumentFaceAmount | DebtInstrumentFaceAmount |
| LineOfCreditFacilityMaximumBorrowingCapacity | LineOfCreditFacilityMaximumBorrowingCapacity |
| IncomeTaxExpenseBenefit | IncomeTaxExpenseBenefit |

Every other source tag is set to `O`.

### Steps

1. loaded generate:finer-139: train «n», validation «n», test «n» sentences
1. analyse labels
1. select types
1. remap types to a new ClassLabel
1. drop sentences without entities
1. stratified split

## Usage

```python
from datasets import load_dataset

dataset = load_dataset("acme/finer-data")
labels = dataset["train"].features["ner_tags"].feature.names
```

## License

cc-by-sa-4.0, inherited from the source dataset.

## Reproduce

```bash
python recipes/finer.py --preset tiny --output-dir PATH/run --no-export training.num_train_epochs=4 training.per_device_train_batch_size=16
```

""" + VERSIONS)
