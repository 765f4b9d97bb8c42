"""Plain token classification: any transformers encoder fine-tuned (or a tiny one built) to tag words.

Modules: ``options`` (the ``options`` section), ``model`` (pretrained loading with label checks, tiny models and
WordPiece tokenizers from a config; ``wordpiece``, ``case_tokens``), ``features`` (document context around the
windows of :mod:`hubtools.tokenization`), ``trainer`` (:class:`~.trainer.NerTrainer`, word metrics), ``export``
(Optimum ONNX export, fusion, CPU rewrites in ``onnx_graph``, int8) and ``recipe``. The distillation and
RNN-tagger families build on this one.
"""
