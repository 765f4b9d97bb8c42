"""Configuration of the RNN tagger (self-contained: imports only transformers)."""

from transformers import PretrainedConfig

CELLS = ("rnn", "gru", "lstm")


class RnnTaggerConfig(PretrainedConfig):
    """Embedding -> (bi)RNN/GRU/LSTM -> dropout -> linear (-> CRF) token classifier.

    Args:
        vocab_size / embedding_dim: the input embedding table.
        hidden_size / num_layers / cell / bidirectional: the recurrent stack.
        dropout: on the recurrent outputs (and between stacked layers).
        embedding_dropout: on the input embeddings (training only).
        token_dropout: share of the input tokens replaced by ``unk_token_id`` during training, so that the
            tagger learns to read the context of words it has not seen (training only).
        char_embedding_dim: with a positive value, each token is also read through its characters (a
            convolution of ``char_filters`` filters of width ``char_kernel_size`` over the token's characters,
            max-pooled) and that vector is concatenated to the token embedding; the characters of every
            vocabulary entry are a buffer of the model (``char_vocab_size`` ids, ``max_token_chars`` per token,
            see :func:`hubtools.families.rnn_tagger.features.piece_characters`).
        use_crf: a linear-chain CRF on top of the per-tag scores.
        word_starts: the model knows which vocabulary entries start a word (a buffer; ``##`` pieces continue
            one): the CRF links consecutive words, in training and in decoding, and every piece of a word
            takes the word's tag. Without it the CRF decodes over every piece.
        word_units: the recurrent layers read words (a piece that starts a word and the ``##`` pieces after
            it, averaged) instead of pieces; implies ``word_starts``.
    """

    model_type = "rnn-tagger"

    def __init__(
        self,
        vocab_size: int = 2,
        embedding_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.1,
        embedding_dropout: float = 0.0,
        token_dropout: float = 0.0,
        char_embedding_dim: int = 0,
        char_filters: int = 50,
        char_kernel_size: int = 3,
        char_vocab_size: int = 2,
        max_token_chars: int = 1,
        use_crf: bool = False,
        word_starts: bool = False,
        word_units: bool = False,
        pad_token_id: int = 0,
        unk_token_id: int | None = None,
        **kwargs,
    ):
        if cell not in CELLS:
            raise ValueError(f"RnnTaggerConfig.cell must be one of {CELLS}, got {cell!r}")
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("char_filters", char_filters),
            ("char_kernel_size", char_kernel_size),
            ("char_vocab_size", char_vocab_size),
            ("max_token_chars", max_token_chars),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"RnnTaggerConfig.{name} must be a positive integer, got {value!r}")
        for name, value in (("dropout", dropout), ("embedding_dropout", embedding_dropout),
                            ("token_dropout", token_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"RnnTaggerConfig.{name} must be in [0, 1), got {value!r}")
        if not isinstance(char_embedding_dim, int) or char_embedding_dim < 0:
            raise ValueError(
                f"RnnTaggerConfig.char_embedding_dim must be 0 (off) or positive, got {char_embedding_dim!r}"
            )
        if token_dropout and unk_token_id is None:
            raise ValueError("RnnTaggerConfig.token_dropout needs unk_token_id")
        if unk_token_id is not None and not 0 <= unk_token_id < vocab_size:
            raise ValueError(
                f"RnnTaggerConfig.unk_token_id {unk_token_id} is outside the vocabulary ({vocab_size})"
            )
        if not 0 <= pad_token_id < vocab_size:
            raise ValueError(
                f"RnnTaggerConfig.pad_token_id {pad_token_id} is outside the vocabulary ({vocab_size})"
            )
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        self.embedding_dropout = float(embedding_dropout)
        self.token_dropout = float(token_dropout)
        self.unk_token_id = unk_token_id
        self.char_embedding_dim = char_embedding_dim
        self.char_filters = char_filters
        self.char_kernel_size = char_kernel_size
        self.char_vocab_size = char_vocab_size
        self.max_token_chars = max_token_chars
        self.use_crf = bool(use_crf)
        self.word_units = bool(word_units)
        self.word_starts = bool(word_starts) or self.word_units
        super().__init__(pad_token_id=pad_token_id, **kwargs)
