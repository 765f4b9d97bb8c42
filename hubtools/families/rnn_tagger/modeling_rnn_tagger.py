"""RNN / GRU / LSTM token classifier with an optional linear-chain CRF (self-contained: torch + transformers).

Inputs must be right-padded (the word tokenizer pads on the right): the lengths given to
``pack_padded_sequence`` are the row sums of ``attention_mask``, so padding never reaches the RNN and a
sentence gets the same logits whether it is padded or not.

With ``use_crf`` the model's ``logits`` are the Viterbi path one-hot encoded and scaled by
``CRF_LOGIT_SCALE``: ``argmax`` gives the decoded tags and softmax gives probability ~1 for them (the
pipeline's scores are then not calibrated). ``emissions()`` returns the per-tag scores before the CRF and
``crf.decode`` turns emissions into tags.
"""

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput

from .configuration_rnn_tagger import RnnTaggerConfig

CRF_LOGIT_SCALE = 1e4
_RNN_CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class LinearChainCrf(nn.Module):
    """Linear-chain CRF over ``num_tags`` with start, end and transition scores.

    Masks may have gaps: masked positions are skipped, transitions link consecutive unmasked positions (the
    unmasked positions are first gathered to the left, so the recursions run over the longest row's count of
    unmasked positions, not over the padded length).
    """

    def __init__(self, num_tags: int):
        super().__init__()
        self.start = nn.Parameter(torch.empty(num_tags))
        self.end = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [from, to]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for param in (self.start, self.end, self.transitions):
            nn.init.uniform_(param, -0.1, 0.1)

    @staticmethod
    def _compact(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(order, compact_mask, counts)``: ``order[b, k]`` is the position of the k-th unmasked step of row
        ``b`` (rows padded with masked positions), ``compact_mask`` is a prefix mask of ``counts``."""
        counts = mask.sum(dim=1)
        width = int(counts.max()) if counts.numel() else 0
        order = torch.argsort((~mask).to(torch.int64), dim=1, stable=True)[:, :width]
        compact = torch.arange(width, device=mask.device).unsqueeze(0) < counts.unsqueeze(1)
        return order, compact, counts

    @staticmethod
    def _gather(emissions: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        return emissions.gather(1, order.unsqueeze(2).expand(-1, -1, emissions.shape[2]))

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per sequence (batch,) by the forward algorithm; 0 for sequences without positions."""
        order, compact, counts = self._compact(mask)
        if not order.shape[1]:
            return emissions[:, :0].sum(dim=(1, 2))  # zeros that keep the graph
        emissions = self._gather(emissions, order)
        alpha = self.start + emissions[:, 0]
        for t in range(1, order.shape[1]):
            cont = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = cont.where(compact[:, t].unsqueeze(1), alpha)
        return torch.logsumexp(alpha + self.end, dim=1).where(counts > 0, torch.zeros_like(alpha[:, 0]))

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalized score of ``tags`` (batch, length) at the unmasked positions, per sequence."""
        order, compact, counts = self._compact(mask)
        if not order.shape[1]:
            return emissions[:, :0].sum(dim=(1, 2))  # zeros that keep the graph
        tags = tags.gather(1, order).masked_fill(~compact, 0)
        emitted = self._gather(emissions, order).gather(2, tags.unsqueeze(2)).squeeze(2)
        score = emitted.masked_fill(~compact, 0.0).sum(dim=1)
        linked = self.transitions[tags[:, :-1], tags[:, 1:]].masked_fill(~compact[:, 1:], 0.0).sum(dim=1)
        last = tags.gather(1, (counts - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        ends = self.start[tags[:, 0]] + self.end[last]
        return (score + linked + ends).where(counts > 0, torch.zeros_like(score))

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood over the sequences that have at least one unmasked position."""
        tags = tags.clamp(min=0)  # masked positions may hold -100
        nll = self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)
        return nll.sum() / mask.any(dim=1).sum().clamp(min=1)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Viterbi path (batch, length); a masked position repeats the tag of the last unmasked one before it
        (of the first one, before the first)."""
        batch, length, num_tags = emissions.shape
        order, compact, counts = self._compact(mask)
        width = order.shape[1]
        if not width:
            return self.end.argmax().expand(batch, length).clone()
        emissions = self._gather(emissions, order)
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
        alpha = (self.start + emissions[:, 0]).where((counts > 0).unsqueeze(1), torch.zeros_like(emissions[:, 0]))
        pointers = []
        for t in range(1, width):
            best, arg = (alpha.unsqueeze(2) + self.transitions).max(dim=1)
            cont = compact[:, t].unsqueeze(1)
            alpha = (best + emissions[:, t]).where(cont, alpha)
            pointers.append(arg.where(cont, identity))
        tag = (alpha + self.end).argmax(dim=1)
        path = [tag]
        for arg in reversed(pointers):
            tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path = torch.stack(path[::-1], dim=1)  # batch, width
        return path.gather(1, (mask.cumsum(dim=1) - 1).clamp(min=0))


class CharEncoder(nn.Module):
    """Token -> its characters (a buffer filled by :meth:`set_token_characters`) -> embedding -> convolution
    -> max over the characters: one ``char_filters`` vector per token."""

    def __init__(self, config: RnnTaggerConfig):
        super().__init__()
        self.register_buffer("token_chars", torch.zeros(config.vocab_size, config.max_token_chars, dtype=torch.long))
        self.embeddings = nn.Embedding(config.char_vocab_size, config.char_embedding_dim, padding_idx=0)
        self.conv = nn.Conv1d(config.char_embedding_dim, config.char_filters, config.char_kernel_size,
                              padding=config.char_kernel_size // 2)

    def set_token_characters(self, rows: list[list[int]]) -> None:
        """``rows[token_id]``: that token's character ids (see
        :func:`hubtools.families.rnn_tagger.features.piece_characters`)."""
        table = torch.tensor(rows, dtype=torch.long)
        if table.shape != self.token_chars.shape:
            raise ValueError(f"token characters of shape {tuple(table.shape)}, the config expects "
                             f"{tuple(self.token_chars.shape)} (vocab_size, max_token_chars)")
        self.token_chars.copy_(table)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        chars = self.token_chars[input_ids]  # batch, length, chars
        batch, length, width = chars.shape
        embedded = self.embeddings(chars.reshape(batch * length, width)).transpose(1, 2)
        padding = chars.reshape(batch * length, 1, width).eq(0)
        pooled = self.conv(embedded).masked_fill(padding, -1e4).max(dim=2).values
        return pooled.masked_fill(padding.all(dim=2), 0.0).reshape(batch, length, -1)  # no characters: zeros


class RnnTaggerForTokenClassification(PreTrainedModel):
    """Token embedding (+ :class:`CharEncoder` features) -> dropout -> packed (bi)RNN/GRU/LSTM -> dropout ->
    linear, optionally followed by a CRF.

    In training, ``config.token_dropout`` of the attended input ids are replaced by ``config.unk_token_id``.

    With ``config.word_starts`` the model knows which pieces start a word (the ``word_starts`` buffer, see
    :meth:`set_word_starts`; a ``##`` piece continues one): the CRF runs over the word starts (training labels
    only first pieces anyway) and the other pieces repeat their word's tag. With ``config.word_units`` the
    recurrent layers also read words, not pieces: a word's input is the mean of its pieces' vectors
    (embedding and character features), its per-tag scores are given to each of its pieces, and its label is
    the label of its first piece."""

    config_class = RnnTaggerConfig
    base_model_prefix = "rnn_tagger"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is a mean: let Trainer scale it for gradient accumulation

    def __init__(self, config: RnnTaggerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.embeddings = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id
        )
        self.chars = CharEncoder(config) if config.char_embedding_dim else None
        if config.word_starts:
            self.register_buffer("word_starts", torch.ones(config.vocab_size, dtype=torch.long))
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = _RNN_CLASSES[config.cell](
            config.embedding_dim + (config.char_filters if self.chars is not None else 0),
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(
            config.hidden_size * (2 if config.bidirectional else 1), config.num_labels
        )
        self.crf = LinearChainCrf(config.num_labels) if config.use_crf else None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's default initialization (N(0, 1) embeddings with a zero padding row)."""
        if isinstance(module, (nn.Embedding, nn.RNNBase, nn.Linear, nn.Conv1d, LinearChainCrf)):
            module.reset_parameters()
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def set_word_starts(self, flags: list[int]) -> None:
        """``flags[token_id]``: 1 if that vocabulary entry starts a word, 0 for a ``##`` continuation piece
        (``config.word_starts`` only)."""
        table = torch.tensor(flags, dtype=torch.long)
        if table.shape != self.word_starts.shape:
            raise ValueError(f"{len(flags)} word-start flags, the vocabulary has {self.word_starts.shape[0]}")
        self.word_starts.copy_(table)

    def starts_word(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The attended pieces that start a word (batch, length), by the ``word_starts`` buffer; the first
        attended piece of a row always does."""
        attended = attention_mask.bool()
        first = torch.zeros_like(attended)
        first[:, 0] = True
        return (self.word_starts[input_ids].bool() | first) & attended

    def word_index(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The word of every piece (batch, length): 0, 1, ... along each row (``config.word_starts``); -1 on
        padding."""
        starts = self.starts_word(input_ids, attention_mask)
        return (starts.long().cumsum(dim=1) - 1).masked_fill(~attention_mask.bool(), -1)

    def _read(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              words: torch.Tensor | None) -> torch.Tensor:
        """Embedding (+ characters) -> dropout -> RNN -> dropout -> linear: scores per piece, or per word
        (left-aligned, ``length`` slots) when ``words`` gives the word of every piece."""
        if self.training and self.config.token_dropout:
            drop = torch.rand(input_ids.shape, device=input_ids.device) < self.config.token_dropout
            input_ids = input_ids.masked_fill(drop & attention_mask.bool(), self.config.unk_token_id)
        embedded = self.embeddings(input_ids)
        if self.chars is not None:
            embedded = torch.cat([embedded, self.chars(input_ids)], dim=-1)
        if words is None:
            lengths = attention_mask.sum(dim=1)
        else:  # mean of the pieces of each word: (batch, word slot, piece) membership
            slots = torch.arange(input_ids.shape[1], device=input_ids.device)
            member = (words.unsqueeze(1) == slots.view(1, -1, 1)).to(embedded.dtype)
            embedded = member @ embedded / member.sum(dim=2, keepdim=True).clamp(min=1.0)
            lengths = words.max(dim=1).values + 1
        packed = pack_padded_sequence(
            self.embedding_dropout(embedded), lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        output, _ = self.rnn(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=input_ids.shape[1])
        return self.classifier(self.dropout(output))

    def emissions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-tag scores (batch, length, num_labels) from the linear layer (before any CRF); with
        ``config.word_units`` every piece has the scores of its word."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if not self.config.word_units:
            return self._read(input_ids, attention_mask, None)
        words = self.word_index(input_ids, attention_mask)
        per_word = self._read(input_ids, attention_mask, words)
        return per_word.gather(1, words.clamp(min=0).unsqueeze(2).expand(-1, -1, per_word.shape[2]))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> TokenClassifierOutput | tuple:
        """Logits (batch, length, num_labels) and, with ``labels`` (-100 = ignored), the loss: cross
        entropy, or the CRF negative log-likelihood over the positions that are attended and labelled.

        In training with ``labels`` a CRF model skips the Viterbi decoding: its logits are the emissions."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attended = attention_mask.bool()
        if self.config.word_units:
            words = self.word_index(input_ids, attention_mask)
            scores = self._read(input_ids, attention_mask, words)  # per word slot
            slots = torch.arange(input_ids.shape[1], device=input_ids.device)
            scored = slots.unsqueeze(0) <= words.max(dim=1, keepdim=True).values
            if labels is not None:  # a word's label is its first piece's label
                first = attended & (words != F.pad(words, (1, 0), value=-1)[:, :-1])
                target = torch.full((labels.shape[0], labels.shape[1] + 1), -100, dtype=labels.dtype,
                                    device=labels.device)
                labels = target.scatter(1, words.masked_fill(~first, labels.shape[1]), labels)[:, :-1]
        else:
            words, scores = None, self._read(input_ids, attention_mask, None)
            scored = self.starts_word(input_ids, attention_mask) if self.config.word_starts else attended
        loss = None
        if self.crf is None:
            logits = scores
            if labels is not None:
                loss = nn.functional.cross_entropy(
                    logits.reshape(-1, self.num_labels), labels.reshape(-1), ignore_index=-100
                )
        else:
            if labels is not None:
                loss = self.crf.neg_log_likelihood(scores, labels, scored & labels.ne(-100))
            if self.training and labels is not None:
                logits = scores
            else:
                path = self.crf.decode(scores, scored)
                logits = nn.functional.one_hot(path, self.num_labels).to(scores.dtype) * CRF_LOGIT_SCALE
        if words is not None:
            logits = logits.gather(1, words.clamp(min=0).unsqueeze(2).expand(-1, -1, logits.shape[2]))
        return_dict = return_dict if return_dict is not None else self.config.use_return_dict
        if not return_dict:
            return (logits,) if loss is None else (loss, logits)
        return TokenClassifierOutput(loss=loss, logits=logits)
