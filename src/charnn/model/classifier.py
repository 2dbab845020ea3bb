"""CharClassifier: embedding -> recurrent core -> pooling -> dropout -> linear, one label a text.

It reads either characters, ids (B, T) through an embedding table, or sequences of numbers,
values (B, T, F) through a `ValueEmbedding` (standardised, then a linear layer): the same
network from the core on. A batch holds sequences of different lengths, right-padded to the
longest, and their lengths (B,). Padding never changes a result:

- forwards, position t reads positions <= t only, so the outputs at real positions are those
  of the text alone, and pooling reads real positions only (`last`: position length-1);
- backwards (`bidirectional`), each text is reversed within its own length before the core
  reads it and reversed back after, so the backward direction starts at the text's last real
  character, never at padding:

      ids      a b c _ _          reversed   c b a _ _
      lengths  3                  (positions past the length stay where they are)

Bidirectional layers are therefore stacked here one layer at a time (a forward and a backward
core of one layer each, the next layer reading both), which works the same for every cell,
charnn's SimpleRNN included.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from charnn.config import ModelConfig
from charnn.model.cells import CELLS, Cell


def reverse_within_lengths(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """values (B, T, D) with each row's first `lengths[b]` positions in reverse order."""
    positions = torch.ones_like(values[:, :, 0], dtype=torch.long).cumsum(1) - 1  # (B, T)
    last = (lengths - 1).unsqueeze(1)  # (B, 1)
    index = torch.where(positions <= last, last - positions, positions)  # (B, T)
    return values.gather(1, index.unsqueeze(2).expand_as(values))


def padding_mask(positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) True at the real positions of each row, False at its padding; `positions` is
    any (B, T) tensor of the batch's shape."""
    index = torch.ones_like(positions, dtype=torch.long).cumsum(1) - 1  # (B, T)
    return index < lengths.unsqueeze(1)


class ValueEmbedding(nn.Module):
    """Each step's F numbers, standardised, into the core's input: a linear layer to E.

    The per-feature mean and scale are buffers: computed once from the training split
    (`standardize_by`), they travel in the weights, so every checkpoint, evaluation and export
    takes raw values (pixels as they are) and scales them the same way.
    """

    def __init__(self, features: int, width: int) -> None:
        super().__init__()
        self.features = features
        self.mean: torch.Tensor
        self.scale: torch.Tensor
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.linear = nn.Linear(features, width)

    def standardize_by(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        with torch.no_grad():
            self.mean.copy_(mean)
            self.scale.copy_(scale)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        """values (B, T, F) -> (B, T, E)."""
        return self.linear((values.float() - self.mean) / self.scale)


class CharClassifier(nn.Module):
    def __init__(
        self,
        config: ModelConfig,
        vocab_size: int,
        num_classes: int,
        *,
        features: int | None = None,
    ) -> None:
        """`features`: read sequences of that many numbers a step (vocab_size is then unused)
        rather than characters."""
        super().__init__()
        self.config = config
        self.cell: Cell = CELLS[config.cell]
        self.vocab_size, self.num_classes, self.features = vocab_size, num_classes, features
        self.embedding: nn.Embedding | ValueEmbedding = (
            nn.Embedding(vocab_size, config.embedding_dim)
            if features is None
            else ValueEmbedding(features, config.embedding_dim)
        )
        hidden, layers = config.hidden_size, config.num_layers
        self.rnn: nn.Module | None = None
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        if config.bidirectional:
            for layer in range(layers):
                size = config.embedding_dim if layer == 0 else 2 * hidden
                self.forward_layers.append(self.cell.core(size, hidden, 1, batch_first=True))
                self.backward_layers.append(self.cell.core(size, hidden, 1, batch_first=True))
        else:
            self.rnn = self.cell.core(
                config.embedding_dim,
                hidden,
                layers,
                batch_first=True,
                dropout=config.dropout if layers > 1 else 0.0,
            )
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(directions * hidden, num_classes)
        self.recurrent_autocast = True
        """As CharRNN's: whether the cores run under an enclosing autocast."""

    def replace_cores(self, replace: Callable[[nn.Module, int], nn.Module]) -> None:
        """Put `replace(core, its number of layers)` in place of every recurrent core (the
        exporters swap in standard or exportable modules with the same weights)."""
        if self.rnn is not None:
            self.rnn = replace(self.rnn, self.config.num_layers)
        for layers in (self.forward_layers, self.backward_layers):
            for index, layer in enumerate(layers):
                layers[index] = replace(layer, 1)

    @property
    def first_core(self) -> nn.Module:
        """The core that reads the embeddings (the forward one, when bidirectional)."""
        return self.rnn if self.rnn is not None else self.forward_layers[0]

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """inputs right-padded, ids (B, T) or values (B, T, F); lengths (B,) -> logits (B, C)."""
        lengths = lengths.clamp(min=1)  # a text with no known character reads one padding id
        embedded = self.embedding(inputs)  # (B, T, E)
        if self.recurrent_autocast:
            outputs = self._read(embedded, lengths)
        else:
            with torch.autocast(embedded.device.type, enabled=False):
                outputs = self._read(embedded.float(), lengths)
        return self.head(self.dropout(self._pool(outputs, lengths)))  # (B, C)

    def _read(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, T, D): every position's output, D = H or 2H (forward, backward)."""
        if self.rnn is not None:
            outputs, _ = self.rnn(embedded)
            return outputs
        values = embedded
        for index, (forward, backward) in enumerate(
            zip(self.forward_layers, self.backward_layers, strict=True)
        ):
            if index > 0:
                values = self.dropout(values)
            ahead, _ = forward(values)  # (B, T, H)
            behind, _ = backward(reverse_within_lengths(values, lengths))
            values = torch.cat([ahead, reverse_within_lengths(behind, lengths)], dim=2)
        return values

    def _pool(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D), from real positions only."""
        pooling, hidden = self.config.pooling, self.config.hidden_size
        if pooling == "last":
            last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
            at_end = outputs.gather(1, last).squeeze(1)  # (B, D)
            if not self.config.bidirectional:
                return at_end
            # The backward direction has read the whole text once it reaches position 0.
            return torch.cat([at_end[:, :hidden], outputs[:, 0, hidden:]], dim=1)
        mask = padding_mask(outputs[:, :, 0], lengths).unsqueeze(2)  # (B, T, 1)
        if pooling == "mean":
            total = (outputs * mask).sum(1)
            return total / lengths.unsqueeze(1).to(outputs.dtype)
        return outputs.masked_fill(~mask, float("-inf")).amax(1)
