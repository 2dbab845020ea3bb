"""The training split as contiguous streams, read a window at a time."""

from __future__ import annotations

import torch

from charnn.errors import ConfigError, DataError


class TrainStreams:
    """The training ids as `batch_size` contiguous streams, read in windows of `seq_len`.

    The text "abcdefghijklmnopqrstuvwxyz" with batch_size 4 becomes four streams of six
    characters (the last two are dropped), one per row:

        ┌ a b c d e f ┐     With seq_len 2, step 0 reads inputs from columns 0-1 (ab gh mn st)
        │ g h i j k l │     and targets from columns 1-2 (bc hi no tu); step 1 reads columns
        │ m n o p q r │     2-3 and 3-4. Row r of every batch continues row r of the previous
        └ s t u v w x ┘     one, so the hidden state carries across windows (truncated BPTT).

    An epoch is `windows_per_epoch` steps; then every stream starts again from its beginning,
    which is why the trainer resets the hidden state there. The window of a step is a pure
    function of the step number, so a resumed run reads exactly where the first one stopped.
    """

    def __init__(self, ids: torch.Tensor, *, batch_size: int, seq_len: int) -> None:
        stream_len = len(ids) // batch_size
        if stream_len < seq_len + 1:
            needed = batch_size * (seq_len + 1)
            raise DataError(
                f"the training text has {len(ids)} characters, too few for one batch: "
                f"train.batch_size x (train.seq_len + 1) = {batch_size} x {seq_len + 1} = {needed} "
                "are needed; lower train.batch_size or train.seq_len, or use a longer text"
            )
        self.seq_len = seq_len
        self.streams = ids[: stream_len * batch_size].reshape(batch_size, stream_len)  # (B, L)
        self.windows_per_epoch = (stream_len - 1) // seq_len

    def shard(self, rank: int, count: int) -> TrainStreams:
        """Keep rows rank*B/count .. (rank+1)*B/count - 1: one process's share of the streams
        in a run of `count` processes. Together the shares are exactly the B streams."""
        batch_size = self.streams.shape[0]
        if batch_size % count:
            raise ConfigError(
                f"train.batch_size ({batch_size}) is the global batch and must divide evenly "
                f"among the {count} processes; use a multiple of {count}"
            )
        share = batch_size // count
        self.streams = self.streams[rank * share : (rank + 1) * share]
        return self

    def to(self, device: torch.device) -> TrainStreams:
        self.streams = self.streams.to(device)
        return self

    def window(self, step: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Inputs (B, T), targets (B, T), and whether this window starts an epoch."""
        index = step % self.windows_per_epoch
        start = index * self.seq_len
        # Ids are stored compact (uint8/uint16/int32, maybe memory-mapped); models want int64.
        inputs = self.streams[:, start : start + self.seq_len].long()
        targets = self.streams[:, start + 1 : start + self.seq_len + 1].long()
        return inputs, targets, index == 0
