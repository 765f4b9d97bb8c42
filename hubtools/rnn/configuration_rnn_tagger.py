"""Configuration of the RNN tagger (self-contained: imports only transformers)."""

from transformers import PretrainedConfig

CELLS = ("rnn", "gru", "lstm")


class RnnTaggerConfig(PretrainedConfig):
    """Embedding -> (bi)RNN/GRU/LSTM -> dropout -> linear (-> CRF) token classifier."""

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
        use_crf: bool = False,
        pad_token_id: int = 0,
        **kwargs,
    ):
        if cell not in CELLS:
            raise ValueError(f"RnnTaggerConfig.cell must be one of {CELLS}, got {cell!r}")
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"RnnTaggerConfig.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"RnnTaggerConfig.dropout must be in [0, 1), got {dropout!r}")
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
        self.use_crf = bool(use_crf)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
