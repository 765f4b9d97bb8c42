"""The RNN-tagger family: RNN / GRU / LSTM (+ optional CRF) token classifiers trained from scratch.

Modules: ``configuration_rnn_tagger`` and ``modeling_rnn_tagger`` import only torch and transformers, so
that ``register_for_auto_class`` copies them next to the weights and a Hub model loads with
``trust_remote_code=True``; ``features`` (word and WordPiece vocabularies from the training split), ``trainer``
(the mean of the last epochs' weights), ``schedulers``, ``legacy_metric``, ``options`` (the ``options`` section),
``recipe`` (:class:`~hubtools.families.rnn_tagger.recipe.RnnTaggerRecipe`), ``export`` (the family's exporter),
``decode`` (its decoder: CRF Viterbi decoding of the ONNX emissions) and ``model`` (the installed classes hubtools
loads a saved tagger with, :mod:`hubtools.remote_code`). The family builds on token classification: the same
windows, document context and Trainer.
"""
