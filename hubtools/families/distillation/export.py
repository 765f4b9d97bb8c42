"""The distillation family's export: a distilled student is a plain token classifier, exported as one."""

from hubtools.families.token_classification.export import OptimumExporter

EXPORTER = OptimumExporter
