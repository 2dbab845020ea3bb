from __future__ import annotations

import pytest
import torch

from charnn.config import ModelConfig
from charnn.model.classifier import CharClassifier, padding_mask, reverse_within_lengths

SHAPES = [
    (cell, bidirectional, pooling)
    for cell in ("lstm", "gru", "rnn")
    for bidirectional in (False, True)
    for pooling in ("last", "mean", "max")
]


def classifier(cell: str, bidirectional: bool, pooling: str, layers: int = 2) -> CharClassifier:
    torch.manual_seed(0)
    config = ModelConfig(
        cell=cell,
        hidden_size=8,
        num_layers=layers,
        embedding_dim=6,
        bidirectional=bidirectional,
        pooling=pooling,
    )
    return CharClassifier(config, vocab_size=5, num_classes=3).eval()


def test_reverse_within_lengths_leaves_the_padding_in_place() -> None:
    values = torch.arange(10.0).view(2, 5, 1)
    reversed_ = reverse_within_lengths(values, torch.tensor([3, 5]))
    assert reversed_[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    assert padding_mask(torch.zeros(2, 4), torch.tensor([1, 4])).tolist() == [
        [True, False, False, False],
        [True, True, True, True],
    ]


@pytest.mark.parametrize(("cell", "bidirectional", "pooling"), SHAPES)
def test_padding_never_changes_a_result(cell: str, bidirectional: bool, pooling: str) -> None:
    """Each text in a padded batch gets the logits it gets alone, whatever the padding holds."""
    model = classifier(cell, bidirectional, pooling)
    texts = [[1, 2, 3], [4, 1, 2, 3, 1, 4], [2]]
    width = 8
    ids = torch.full((3, width), 4)  # padding with a real id: it must be ignored all the same
    for row, text in enumerate(texts):
        ids[row, : len(text)] = torch.tensor(text)
    lengths = torch.tensor([len(text) for text in texts])
    batched = model(ids, lengths)  # (B, C)
    assert batched.shape == (3, 3)
    for row, text in enumerate(texts):
        alone = model(torch.tensor([text]), torch.tensor([len(text)]))
        torch.testing.assert_close(batched[row], alone[0], rtol=1e-5, atol=1e-6)


def test_bidirectional_reads_the_order_both_ways_and_doubles_the_head() -> None:
    model = classifier("lstm", True, "last", layers=1)
    assert model.head.in_features == 16
    forwards, backwards = (
        model(torch.tensor([[1, 2, 3]]), torch.tensor([3])),
        model(torch.tensor([[3, 2, 1]]), torch.tensor([3])),
    )
    assert not torch.allclose(forwards, backwards)


def test_a_simple_rnn_classifier_matches_one_built_on_nn_rnn() -> None:
    """SimpleRNN stays a drop-in for nn.RNN inside the classifier too."""
    ours = classifier("rnn", True, "mean")
    standard = CharClassifier(ours.config, 5, 3).eval()
    for layers in (standard.forward_layers, standard.backward_layers):
        for index in range(len(layers)):
            layers[index] = torch.nn.RNN(layers[index].input_size, 8, 1, batch_first=True)
    standard.load_state_dict(ours.state_dict())
    ids, lengths = torch.tensor([[1, 2, 3, 0], [3, 3, 0, 0]]), torch.tensor([4, 2])
    torch.testing.assert_close(ours(ids, lengths), standard(ids, lengths), rtol=1e-5, atol=1e-6)


def test_values_are_standardised_inside_the_model() -> None:
    """Raw values into a model that holds the scaling equal scaled values into one that does
    not: every consumer of a checkpoint can pass raw values."""
    torch.manual_seed(0)
    config = ModelConfig(cell="lstm", hidden_size=8, num_layers=1, embedding_dim=6)
    scaled = CharClassifier(config, vocab_size=0, num_classes=3, features=2).eval()
    raw = CharClassifier(config, vocab_size=0, num_classes=3, features=2).eval()
    raw.load_state_dict(scaled.state_dict())
    mean, scale = torch.tensor([100.0, -3.0]), torch.tensor([20.0, 0.5])
    raw.embedding.standardize_by(mean, scale)  # type: ignore[operator]
    assert set(raw.state_dict()) >= {"embedding.mean", "embedding.scale"}
    values = torch.randn(4, 7, 2) * scale + mean  # (B, T, F)
    lengths = torch.tensor([7, 3, 1, 5])
    torch.testing.assert_close(
        raw(values, lengths), scaled((values - mean) / scale, lengths), atol=1e-5, rtol=1e-5
    )
    assert raw.embedding.linear.in_features == 2  # type: ignore[union-attr]
