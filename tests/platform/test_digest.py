from __future__ import annotations

import pytest
import torch

from charnn.platform.digest import content_sha256


def test_equal_content_gives_equal_digests() -> None:
    value = {"w": torch.arange(6.0).reshape(2, 3), "step": 3, "names": ["a", None, 1.5]}
    copy = {"w": torch.arange(6.0).reshape(2, 3).clone(), "step": 3, "names": ["a", None, 1.5]}
    assert content_sha256(value) == content_sha256(copy)
    assert content_sha256(value["w"].t()) == content_sha256(value["w"].t().contiguous())


@pytest.mark.parametrize(
    "other",
    [
        {"w": torch.tensor([1.0, 2.0, 3.5])},  # one value
        {"w": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)},  # dtype
        {"w": torch.tensor([[1.0, 2.0, 3.0]])},  # shape
        {"v": torch.tensor([1.0, 2.0, 3.0])},  # key
        {"w": [1.0, 2.0, 3.0]},  # container type
    ],
)
def test_any_change_changes_the_digest(other: dict[str, object]) -> None:
    assert content_sha256({"w": torch.tensor([1.0, 2.0, 3.0])}) != content_sha256(other)


@pytest.mark.parametrize(("a", "b"), [(1, 1.0), (1, True), ("1", 1), ([1, 2], (1, 2)), ([], {})])
def test_types_are_part_of_the_digest(a: object, b: object) -> None:
    assert content_sha256(a) != content_sha256(b)


def test_nesting_cannot_collide() -> None:
    assert content_sha256([["a"], "b"]) != content_sha256([["a", "b"]])


def test_empty_tensors_and_objects() -> None:
    assert content_sha256(torch.empty(0)) != content_sha256(torch.empty(0, 2))
    with pytest.raises(TypeError, match="plain data"):
        content_sha256(object())
