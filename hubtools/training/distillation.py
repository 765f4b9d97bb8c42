"""Knowledge distillation of a token-classification teacher into a smaller student.

The teacher runs once, offline, on its own tokenization; its logits are reduced to one row per word
(first sub-token), reordered to the dataset's label order by name, and attached to the student's
features at the student's first sub-tokens. Teacher and student are therefore aligned by words and
may use different tokenizers. ``DistillationTrainer`` then mixes cross-entropy on the gold labels
with the temperature-scaled KL divergence to the teacher on those word positions.

A recipe calls, in order::

    permutation = label_permutation(teacher.config.id2label, label_names)
    word_logits = teacher_word_logits(teacher, teacher_tokenizer, train["tokens"], permutation)
    train_features = attach_teacher_logits(train_features, word_logits)
    student = build_student_from_teacher(teacher)  # or any token-classification model
    trainer = build_trainer(student, student_tokenizer, args, train_features, validation_features,
                            metrics, trainer_cls=DistillationTrainer, alpha=0.5, temperature=2.0)
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from transformers import DataCollatorForTokenClassification, PreTrainedModel

from hubtools.errors import ConfigError, DataError
from hubtools.tokenization import plan_windows
from hubtools.training.trainer import NerTrainer

IGNORE_INDEX = -100

# Student layer i is teacher layer i * n // k (n teacher layers, k student layers).
_LAYER_KEY = {
    "bert": re.compile(r"^((?:.*\.)?encoder\.layer\.)(\d+)(\..*)$"),
    "distilbert": re.compile(r"^((?:.*\.)?transformer\.layer\.)(\d+)(\..*)$"),
}


def _check_alpha_temperature(alpha: float, temperature: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"distillation alpha must be in [0, 1], got {alpha}")
    if not temperature > 0.0:
        raise ConfigError(f"distillation temperature must be > 0, got {temperature}")


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


def word_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over the positions where ``labels != -100`` (0 when there are none)."""
    mask = labels != IGNORE_INDEX
    return F.cross_entropy(logits[mask].float(), labels[mask], reduction="sum") / mask.sum().clamp(min=1)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    """``alpha * CE(student, gold) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))``.

    Logits are ``[batch, seq, num_labels]`` (teacher already in dataset label order), labels
    ``[batch, seq]``. Both terms only use positions where ``labels != -100`` and are averaged over
    those N positions (KL "batchmean" with the N positions as the batch); the T^2 factor keeps the
    gradient scale of the soft term roughly independent of T. A batch without labelled positions
    gives 0.
    """
    _check_alpha_temperature(alpha, temperature)
    if student_logits.shape != teacher_logits.shape:
        raise DataError(
            f"teacher_logits shape {tuple(teacher_logits.shape)} differs from the student logits "
            f"{tuple(student_logits.shape)}"
        )
    mask = labels != IGNORE_INDEX
    kl = F.kl_div(
        F.log_softmax(student_logits[mask].float() / temperature, dim=-1),
        F.log_softmax(teacher_logits[mask].float() / temperature, dim=-1),
        reduction="sum",
        log_target=True,
    )
    soft = temperature**2 * kl / mask.sum().clamp(min=1)
    return alpha * word_cross_entropy(student_logits, labels) + (1.0 - alpha) * soft


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
            mask = np.asarray(labels) != IGNORE_INDEX
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


class DistillationDataCollator(DataCollatorForTokenClassification):
    """Token-classification collator that also pads ``teacher_logits`` (with zeros) like the labels."""

    def torch_call(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if "teacher_logits" not in features[0]:
            return super().torch_call(features)
        teacher = [torch.as_tensor(feature["teacher_logits"], dtype=torch.float32) for feature in features]
        batch = super().torch_call(
            [{k: v for k, v in feature.items() if k != "teacher_logits"} for feature in features]
        )
        length = batch["labels"].shape[1]
        padded = torch.zeros(len(teacher), length, teacher[0].shape[-1])
        for row, logits in enumerate(teacher):
            if self.tokenizer.padding_side == "right":
                padded[row, : len(logits)] = logits
            else:
                padded[row, length - len(logits) :] = logits
        batch["teacher_logits"] = padded
        return batch


class DistillationTrainer(NerTrainer):
    """Trainer whose loss is ``distillation_loss`` when the batch carries ``teacher_logits``.

    Batches without them (evaluation and prediction sets) use plain cross-entropy, so evaluation
    needs no teacher. The ``teacher_logits`` column survives ``remove_unused_columns``, and a plain
    ``DataCollatorForTokenClassification`` (as ``training.trainer.build_trainer`` passes) is replaced by
    a ``DistillationDataCollator`` with the same settings.
    """

    def __init__(self, *args: Any, alpha: float = 0.5, temperature: float = 2.0, **kwargs: Any) -> None:
        _check_alpha_temperature(alpha, temperature)
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self.temperature = temperature
        if type(self.data_collator) is DataCollatorForTokenClassification:
            settings = {
                field.name: getattr(self.data_collator, field.name) for field in fields(self.data_collator)
            }
            self.data_collator = DistillationDataCollator(**settings)
        # The loss is a mean over this batch's labelled positions; Trainer divides it by the number
        # of gradient-accumulation steps instead of passing num_items_in_batch to the model.
        self.model_accepts_loss_kwargs = False

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if "teacher_logits" not in self._signature_columns:
            self._signature_columns.append("teacher_logits")

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        if teacher_logits is None:
            loss = word_cross_entropy(outputs.logits, labels)
        else:
            loss = distillation_loss(outputs.logits, teacher_logits, labels, self.alpha, self.temperature)
        return (loss, outputs) if return_outputs else loss


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


def grid_search(
    train_fn: Callable[[float, float], float],
    alphas: Iterable[float],
    temperatures: Iterable[float],
    budget: int | None = None,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Score (alpha, temperature) pairs with ``train_fn`` (higher is better), e.g. validation F1.

    Pairs run in ``itertools.product(alphas, temperatures)`` order (alpha-major), at most ``budget``
    of them. Returns the best row (the first one on ties; NaN scores never win) and the table of all
    rows ``{"alpha", "temperature", "score"}`` in run order, ready for results.json.
    """
    pairs = list(itertools.product(alphas, temperatures))
    if not pairs:
        raise ConfigError("grid_search needs at least one alpha and one temperature")
    if budget is not None:
        if budget < 1:
            raise ConfigError(f"grid_search budget must be >= 1, got {budget}")
        pairs = pairs[:budget]
    for alpha, temperature in pairs:
        _check_alpha_temperature(alpha, temperature)
    table = [
        {"alpha": alpha, "temperature": temperature, "score": float(train_fn(alpha, temperature))}
        for alpha, temperature in pairs
    ]
    best = max(table, key=lambda row: -math.inf if math.isnan(row["score"]) else row["score"])
    return best, table
