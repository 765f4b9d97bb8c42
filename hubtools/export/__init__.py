"""The ONNX export stage: one exporter protocol (:mod:`hubtools.export.base`), implemented once per model family.

This package's ``__init__`` stays empty of imports: the benchmark worker (``python -m
hubtools.export.benchmark``) must start without torch.
"""
