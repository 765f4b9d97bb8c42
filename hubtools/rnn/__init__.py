"""RNN / GRU / LSTM (+ optional CRF) token classifiers trained from scratch, with a word-level tokenizer.

`configuration_rnn_tagger.py` and `modeling_rnn_tagger.py` import only torch and transformers so that
`register_for_auto_class` copies them next to the weights and the Hub model loads with
`trust_remote_code=True`.
"""
