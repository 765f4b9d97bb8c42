"""What every family's training shares: fp32 after mixed-precision training, readable progress lines,
resuming from the last checkpoint and the epoch table of the model card."""

from __future__ import annotations

from pathlib import Path

from accelerate.utils import extract_model_from_parallel
from transformers import Trainer
from transformers.trainer_callback import ProgressCallback
from transformers.trainer_utils import get_last_checkpoint

from hubtools.results import EpochScores


def fp32_after_training(trainer: Trainer) -> None:
    """Mixed precision is for training only: remove the autocast wrapper Accelerate put around the model's
    forward and the Trainer's CPU autocast, so the test evaluation, the export parity checks and the saved
    model all see the same fp32 model."""
    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)
    trainer.use_cpu_amp = False


class EpochProgress(ProgressCallback):
    """transformers' progress bars, with one readable line per validation pass instead of every raw log dict
    (``{'loss': ..., 'grad_norm': ...}``, ``{'eval_loss': ...}``); the numbers stay in ``log_history``."""

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if state.is_world_process_zero and self.training_bar is not None and logs and "eval_f1" in logs:
            self.training_bar.write(
                f"epoch {logs.get('epoch', state.epoch):g}: validation F1 {logs['eval_f1']:.4f} (precision "
                f"{logs.get('eval_precision', float('nan')):.4f}, recall {logs.get('eval_recall', float('nan')):.4f}),"
                f" loss {logs.get('eval_loss', float('nan')):.4f}")


def readable_progress(trainer: Trainer) -> Trainer:
    """``trainer`` with :class:`EpochProgress` in place of transformers' ``ProgressCallback`` (when it shows bars)."""
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(EpochProgress())
    return trainer


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` folder to resume from after an interruption, if any."""
    path = Path(output_dir)
    return get_last_checkpoint(str(path)) if path.is_dir() else None


def epoch_history(log_history: list[dict]) -> list[EpochScores]:
    """One row per epoch from ``trainer.state.log_history``: training loss, step, validation loss and
    the validation metrics (the table the model card shows)."""
    rows: dict[float, dict] = {}
    for entry in log_history:
        epoch = entry.get("epoch")
        if epoch is None:
            continue
        key = round(float(epoch), 4)
        row = rows.setdefault(key, {"epoch": key})
        row["step"] = max(row.get("step", 0), int(entry.get("step", 0)))
        if "loss" in entry:
            row["training_loss"] = float(entry["loss"])
        for name, value in entry.items():
            if name.startswith("eval_") and not name.endswith(("_runtime", "_per_second")):
                row["validation_loss" if name == "eval_loss" else name[5:]] = float(value)
    known = {"epoch", "step", "training_loss", "validation_loss", "precision", "recall", "f1", "accuracy"}
    history = [rows[k] for k in sorted(rows) if len(rows[k]) > 2]
    return [EpochScores(**{k: v for k, v in row.items() if k in known}) for row in history]

