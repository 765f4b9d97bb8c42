"""Plain token classification: any transformers encoder fine-tuned (or a tiny one built) to tag words."""

from hubtools.token_classification.recipe import TokenClassificationRecipe

__all__ = ["TokenClassificationRecipe"]
