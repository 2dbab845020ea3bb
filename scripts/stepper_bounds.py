"""What bounds sampling's speed, for scripts/bench.py: the lean step's matrix products alone,
and their arithmetic. Nothing in charnn itself needs either."""

from __future__ import annotations

import torch

from charnn.inference.stepper import Stepper


def run_products(stepper: Stepper) -> None:
    """Run only a step's matrix products, the head's included, on the stepper's current buffers;
    the state does not move on. A step's time with every other operation free."""
    for product in stepper.products:
        product.run()
    torch.addmm(stepper.head_bias, stepper.h[-1], stepper.head_weight)


def multiply_adds_per_char(stepper: Stepper) -> int:
    """The multiply-adds of one stream's step in its matrix products, the head's included (the
    first layer's input projection is a table lookup, not a product): each weight's size."""
    return sum(product.weight.numel() for product in stepper.products) + stepper.head_weight.numel()
