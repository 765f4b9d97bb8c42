"""The distillation family: a token-classification teacher distilled into a smaller student.

Modules: ``options`` (the ``distillation`` section), ``model`` (labels matched by name, the teacher's word logits,
a student copied from the teacher's layers), ``features`` (augmented copies of the training sentences),
``trainer`` (the loss, collator, Trainer and the alpha/T search), ``export`` (a distilled student exports as a
token classifier) and ``recipe`` (:class:`~hubtools.families.distillation.recipe.DistillationRecipe`, which composes
the sibling runs).
"""
