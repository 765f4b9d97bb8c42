"""The distillation family's decoder: a distilled student is a plain token classifier, tagging as one."""

from hubtools.families.token_classification.decode import TokenClassificationDecoder

DECODER = TokenClassificationDecoder
