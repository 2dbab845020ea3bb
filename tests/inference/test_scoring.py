from __future__ import annotations

import pytest

from charnn.inference.scoring import classify_metrics


def test_metrics_match_a_hand_count() -> None:
    # true:      a a a b b c    (and one example of a label the model does not know)
    # predicted: a a b b c c    a
    accuracy, macro_f1, per_class, confusion = classify_metrics(
        [0, 0, 1, 1, 2, 2, 0], [0, 0, 0, 1, 1, 2, -1], ["a", "b", "c"]
    )
    assert confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert accuracy == pytest.approx(4 / 7)
    # a: precision 2/3 (the unknown one was called a), recall 2/3
    assert per_class["a"]["precision"] == pytest.approx(2 / 3)
    assert per_class["a"]["recall"] == pytest.approx(2 / 3)
    assert per_class["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert per_class["c"]["f1"] == pytest.approx(2 * 0.5 * 1 / 1.5)
    f1s = [per_class[label]["f1"] for label in "abc"]
    assert macro_f1 == pytest.approx(sum(f1s) / 3)


def test_the_mix_adds_the_baselines_log_posteriors_with_its_weight() -> None:
    import numpy as np
    import torch

    from charnn.inference.scoring import choose_weight, mixed

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    baseline = np.log(np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]))
    assert mixed(logits, baseline, None) is logits  # no weight: the network alone
    combined = mixed(logits, baseline, 1.0)
    expected = (logits.log_softmax(1) + torch.from_numpy(baseline).float()).log_softmax(1)
    torch.testing.assert_close(combined, expected)
    # The baseline is right where the network is wrong (row 0), and wrong nowhere else here:
    # some weight helps; an uninformative baseline gets weight 0.
    assert choose_weight(logits, baseline, [1, 1, 1]) > 0
    flat = np.log(np.full((3, 2), 0.5))
    assert choose_weight(logits, flat, [0, 1, 0]) == 0.0
