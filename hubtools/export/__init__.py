"""The ONNX export stage: one pipeline (:mod:`hubtools.export.base`), an exporter per model family.

This package's ``__init__`` stays empty of imports: the benchmark worker (``python -m hubtools.export.worker``)
must start without torch.
"""
