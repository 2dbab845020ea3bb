"""From a corpus to the id tensors a run trains and evaluates on.

The corpus is split contiguously, validation last (as nanoGPT does), so that the validation
text is the same however large the test part is:

    | train .................................. | test (optional) | val (last 10%) |
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charnn.data.vocab import CharVocab
from charnn.errors import ConfigError, DataError


@dataclass(frozen=True)
class Splits:
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    """Empty when data.test_fraction is 0."""


def split_ids(ids: torch.Tensor, *, val_fraction: float, test_fraction: float) -> Splits:
    """Cut a 1-D id tensor into train | test | val by fraction of its length (views: a
    memory-mapped corpus stays mapped)."""
    total = len(ids)
    val_len = int(total * val_fraction)
    test_len = int(total * test_fraction)
    train_len = total - val_len - test_len
    # Scoring needs at least one (input, target) pair, so two characters.
    if val_len < 2:
        raise DataError(
            f"the corpus has {total} characters, too few for a validation split of "
            f"{val_fraction:g}; use a longer text or raise data.val_fraction"
        )
    if test_fraction > 0 and test_len < 2:
        raise DataError(
            f"the corpus has {total} characters, too few for a test split of {test_fraction:g}; "
            "use a longer text, raise data.test_fraction or set it to 0"
        )
    return Splits(
        train=ids[:train_len],
        test=ids[train_len : train_len + test_len],
        val=ids[train_len + test_len :],
    )


def encode_corpus(
    text: str, *, val_fraction: float, test_fraction: float
) -> tuple[CharVocab, Splits]:
    """The vocabulary of the whole corpus, and its ids split for training and evaluation.

    The vocabulary covers every split so that validation and test text always encode; a
    character seen only there simply gets a low probability.
    """
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    return vocab, split_ids(ids, val_fraction=val_fraction, test_fraction=test_fraction)


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
