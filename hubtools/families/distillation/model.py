"""The teacher's side of distillation: labels matched by name, word logits, a student copied from the teacher.

The teacher runs once, offline, on its own tokenization; its logits are reduced to one row per word
(first sub-token), reordered to the dataset's label order by name, and attached to the student's features
at the student's first sub-tokens. Teacher and student are therefore aligned by words and may use different
tokenizers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np
import torch
from transformers import PreTrainedModel

from hubtools.errors import ConfigError, DataError
from hubtools.tokenization import IGNORE, plan_windows

# Student layer i is teacher layer i * n // k (n teacher layers, k student layers).
_LAYER_KEY = {
    "bert": re.compile(r"^((?:.*\.)?encoder\.layer\.)(\d+)(\..*)$"),
    "distilbert": re.compile(r"^((?:.*\.)?transformer\.layer\.)(\d+)(\..*)$"),
}


def label_permutation(teacher_id2label: dict[int, str], label_names: list[str]) -> list[int]:
    """Teacher label index for each dataset label, matched by exact name.

    ``teacher_logits[..., permutation]`` is then in dataset label order. Names must be the same sets
    (IOB1 and IOB2 use the same tag names, so no scheme translation is attempted here); keys of
    ``teacher_id2label`` may be ints or strings (as in a raw config.json).
    """
    teacher_index = {name: int(index) for index, name in teacher_id2label.items()}
    if len(teacher_index) != len(teacher_id2label) or len(set(label_names)) != len(label_names):
        raise ConfigError(
            f"duplicate label names: teacher id2label {dict(teacher_id2label)}, dataset {label_names}"
        )
    missing = [name for name in label_names if name not in teacher_index]
    extra = [name for name in teacher_index if name not in label_names]
    if missing or extra:
        raise ConfigError(
            f"teacher labels do not match the dataset labels: missing from the teacher {missing}, "
            f"unknown to the dataset {extra}; remap the dataset or use a teacher trained on the same labels"
        )
    return [teacher_index[name] for name in label_names]


def teacher_word_logits(
    teacher_model: PreTrainedModel,
    teacher_tokenizer: Any,
    dataset_tokens: Sequence[Sequence[str]],
    permutation: Sequence[int],
    batch_size: int = 32,
    max_length: int = 512,
    stride: int = 128,
) -> list[np.ndarray]:
    """Teacher logits per word: one float32 ``[num_words, num_labels]`` array per sentence.

    The teacher reads each sentence with its own (fast) tokenizer, ``is_split_into_words``; a word's
    logits are those of its first sub-token, reordered with ``permutation`` to the dataset label
    order. Sentences longer than ``max_length`` sub-tokens are cut into word windows overlapping by
    up to ``stride`` sub-tokens (``hubtools.tokenization.plan_windows``), and each word takes its logits
    from the window where it has the most context on both sides. Words the tokenizer turns into no
    sub-token get zero logits.
    """
    if not teacher_tokenizer.is_fast:
        raise ConfigError("teacher_word_logits needs a fast tokenizer (word_ids); got a slow one")
    max_tokens = max_length - teacher_tokenizer.num_special_tokens_to_add(pair=False)
    if not 0 <= stride < max_tokens:
        raise ConfigError(f"stride must be in [0, {max_tokens}) for max_length {max_length}, got {stride}")
    num_labels = len(permutation)
    results = [np.zeros((len(words), num_labels), dtype=np.float32) for words in dataset_tokens]
    best_context = [np.full(len(words), -1) for words in dataset_tokens]

    windows: list[tuple[int, int, int, list[int]]] = []
    for sentence, words in enumerate(dataset_tokens):
        if not words:
            continue
        word_ids = teacher_tokenizer(
            list(words), is_split_into_words=True, add_special_tokens=False
        ).word_ids()
        lengths = np.bincount([w for w in word_ids if w is not None], minlength=len(words)).tolist()
        for start, end in plan_windows(lengths, max_tokens, stride):
            windows.append((sentence, start, end, lengths[start:end]))

    teacher_model.eval()
    index = torch.as_tensor(list(permutation), device=teacher_model.device)
    for offset in range(0, len(windows), batch_size):
        batch = windows[offset : offset + batch_size]
        encoding = teacher_tokenizer(
            [list(dataset_tokens[sentence][start:end]) for sentence, start, end, _ in batch],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        ).to(teacher_model.device)
        with torch.inference_mode():
            logits = teacher_model(**encoding).logits.index_select(-1, index).float().cpu().numpy()
        for row, (sentence, start, _, lengths) in enumerate(batch):
            cumulative = np.cumsum([0, *lengths])
            seen: set[int] = set()
            for position, word in enumerate(encoding.word_ids(row)):
                if word is None or word in seen:
                    continue
                seen.add(word)
                context = min(cumulative[word], cumulative[-1] - cumulative[word + 1])
                if context > best_context[sentence][start + word]:
                    best_context[sentence][start + word] = context
                    results[sentence][start + word] = logits[row, position]
    return results


def attach_teacher_logits(features: datasets.Dataset, word_logits: Sequence[np.ndarray]) -> datasets.Dataset:
    """Add a ``teacher_logits`` column ``[seq_len, num_labels]`` aligned to the student positions.

    Each labelled position (``labels != -100``) receives ``word_logits[example_index][word_index]``;
    other positions (special tokens, later sub-tokens, padding) get zeros.
    """
    num_labels = word_logits[0].shape[1] if len(word_logits) else 0
    new_features = features.features.copy()
    new_features["teacher_logits"] = datasets.List(datasets.List(datasets.Value("float32")))

    def attach(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        rows = []
        for row, example, word_index, labels in zip(
            indices, batch["example_index"], batch["word_index"], batch["labels"], strict=True
        ):
            words = np.asarray(word_index)
            mask = np.asarray(labels) != IGNORE
            if not 0 <= example < len(word_logits):
                raise DataError(f"features row {row}: example_index {example} has no teacher logits")
            sentence = word_logits[example]
            if (words[mask] < 0).any() or (words[mask] >= len(sentence)).any():
                raise DataError(
                    f"features row {row}: labelled positions have word_index {words[mask].tolist()}, "
                    f"but example {example} has {len(sentence)} words"
                )
            logits = np.zeros((len(words), num_labels), dtype=np.float32)
            logits[mask] = sentence[words[mask]]
            rows.append(logits)
        return {"teacher_logits": rows}

    return features.map(attach, batched=True, with_indices=True, features=new_features)


def join_runs(word_logits: Sequence[np.ndarray], runs: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """``word_logits`` with the entry of each run's first sentence replaced by the logits of the whole run,
    its sentences joined in order: what :func:`attach_teacher_logits` needs for training rows read with
    document context (a row holds a run of sentences and carries its first one's ``example_index``)."""
    joined = list(word_logits)
    for run in runs:
        joined[run[0]] = np.concatenate([word_logits[sentence] for sentence in run])
    return joined


def build_student_from_teacher(teacher: PreTrainedModel, num_layers: int | None = None) -> PreTrainedModel:
    """A shallower copy of ``teacher`` (DistilBERT-style initialization).

    Same class and width; ``num_layers`` (default: half the teacher's, at least 1) transformer layers,
    student layer i being teacher layer ``i * n // num_layers`` for n teacher layers (every other
    layer, [0, 2, 4] of 6, by default). Embeddings, pooler and classifier are copied. Supports BERT
    and DistilBERT teachers.
    """
    model_type = teacher.config.model_type
    if model_type not in _LAYER_KEY:
        raise ConfigError(
            f"build_student_from_teacher cannot shrink {type(teacher).__name__} (model_type "
            f"{model_type!r}); supported: {sorted(_LAYER_KEY)}"
        )
    teacher_layers = teacher.config.num_hidden_layers
    num_layers = max(teacher_layers // 2, 1) if num_layers is None else num_layers
    if not 1 <= num_layers <= teacher_layers:
        raise ConfigError(f"num_layers must be in [1, {teacher_layers}] for this teacher, got {num_layers}")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = num_layers
    student = type(teacher)(config)

    teacher_state = teacher.state_dict()
    pattern = _LAYER_KEY[model_type]
    state = {}
    for key in student.state_dict():
        match = pattern.match(key)
        if match:
            layer = int(match.group(2)) * teacher_layers // num_layers
            state[key] = teacher_state[f"{match.group(1)}{layer}{match.group(3)}"]
        else:
            state[key] = teacher_state[key]
    student.load_state_dict(state)
    return student.to(teacher.device)
