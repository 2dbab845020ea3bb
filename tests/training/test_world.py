"""The process world of a run torchrun did not start: every collective is free and changes
nothing (tests/e2e/test_distributed.py runs real ones)."""

from __future__ import annotations

import pytest
import torch

from charnn.errors import CharnnError
from charnn.training.world import World, join_world


def test_one_process_world_changes_nothing() -> None:
    world = join_world(torch.device("cpu"))  # no torchrun variables in the test environment
    assert world == World() and world.is_main and not world.distributed
    value = torch.tensor([1.5, 2.0])
    assert world.mean(value) is value
    assert world.gather_rows(value, 0) is value
    assert world.from_main([3.0, 4.0]) == [3.0, 4.0]
    assert world.rank_states({"a": 1}) == []
    assert world.on_main(lambda: 7) == 7
    model = torch.nn.Linear(2, 2)
    assert world.wrap(model, torch.device("cpu")) is model
    assert torch.equal(world.local_rows(value.view(1, 2), batch_size=2), value.view(1, 2))
    before = torch.get_rng_state()
    world.seed_ranks(123)  # one process: nothing to reseed
    assert torch.equal(torch.get_rng_state(), before)
    with pytest.raises(CharnnError, match="boom"):
        world.on_main(lambda: (_ for _ in ()).throw(CharnnError("boom")))
