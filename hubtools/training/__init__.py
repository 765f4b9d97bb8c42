"""Trainer construction for plain fine-tuning and distillation."""
