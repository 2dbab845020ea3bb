"""CharRNN: embedding -> recurrent core (LSTM, GRU or SimpleRNN) -> dropout -> linear head.

The model maps ids to next-character logits and a new hidden state; nothing else. Loss,
optimizer, clipping and schedules belong to the trainer.
"""

from __future__ import annotations

import torch
from torch import nn

from charnn.config import ModelConfig
from charnn.model.cells import CELLS, Cell, Hidden, hidden_from_parts, hidden_parts, map_hidden


class CharRNN(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.cell: Cell = CELLS[config.cell]
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.rnn = self.cell.core(
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            # Between layers only: PyTorch warns when it is set on a one-layer core.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, vocab_size)
        self.recurrent_autocast = True
        """Whether the recurrent core runs under an enclosing autocast. The trainer turns it
        off when autocast would run the core in float16 although bfloat16 was asked for (see
        `recurrent_dtype`): the core then runs in fp32, the head still in the lower
        precision. Not saved: it is how this process runs the model, not part of it."""

    def forward(
        self, ids: torch.Tensor, hidden: Hidden | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """ids (B, T) -> logits (B, T, V) and the hidden state after the last step.

        `hidden=None` starts from zeros.
        """
        embedded = self.embedding(ids)  # (B, T, E)
        if self.recurrent_autocast:
            output, hidden = self.rnn(embedded, hidden)  # (B, T, H)
        else:
            with torch.autocast(embedded.device.type, enabled=False):
                output, hidden = self.rnn(embedded.float(), hidden)
        logits = self.head(self.dropout(output))  # (B, T, V)
        return logits, hidden

    def zero_hidden(self, batch_size: int) -> Hidden:
        """The state `hidden=None` stands for, spelt out: zeros (num_layers, B, H)."""
        weight = self.head.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        zeros = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
        return (zeros, zeros.clone()) if self.cell.carries_cell_state else zeros


def detach_hidden(hidden: Hidden) -> Hidden:
    """Cut the hidden state from the graph that produced it, as fp32.

    The state carries on to the next window (truncated BPTT); without this, backward would run
    through every window since the start of the epoch. Under bf16 autocast an LSTM hands its
    state on in bf16; carried as fp32 (an exact cast) it has one dtype in checkpoints, in the
    gather across processes and in a run resumed under another `train.precision`.
    """
    return map_hidden(lambda part: part.detach().float(), hidden)


def hidden_to_list(hidden: Hidden | None) -> list[torch.Tensor]:
    """A hidden state as a list of CPU tensors (plain data for a checkpoint)."""
    if hidden is None:
        return []
    return [part.detach().cpu() for part in hidden_parts(hidden)]


def hidden_from_list(parts: list[torch.Tensor], device: torch.device) -> Hidden | None:
    if not parts:
        return None
    return hidden_from_parts([part.to(device=device, dtype=torch.float32) for part in parts])


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
