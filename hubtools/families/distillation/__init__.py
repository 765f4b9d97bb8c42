"""The distillation family: a token-classification teacher distilled into a smaller student.

Modules: ``options`` (the ``distillation`` section), ``teacher`` (labels matched by name, word logits, a
student copied from the teacher's layers), ``trainer`` (the loss, collator, Trainer and the alpha/T search)
and ``recipe`` (:class:`~hubtools.families.distillation.recipe.DistillationRecipe`).
"""
