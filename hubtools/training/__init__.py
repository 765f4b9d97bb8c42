"""Training: Trainer construction and knowledge distillation."""
