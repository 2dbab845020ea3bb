"""Write the synthetic majority-bit task: bit strings labelled by which bit outnumbers the
other (odd lengths, so there is no tie). A classifier must count over the whole string, which
no single position tells: the RNN tutorials' toy task for sequence classification.

The same examples are written twice: as text (bits.tsv, label<TAB>bits) and as numbers
(bits.npz: x (N, T) uint8 0/1 right-padded, lengths (N,), y (N,) the labels).

    python scripts/majority_bits.py bits.tsv                # 2,000 examples, lengths 5 to 25
    charnn train configs/majority-bit.yaml --data bits.tsv  # reads characters
    charnn train configs/majority-bit.yaml --data bits.npz  # reads numbers
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np


def majority_bit_rows(count: int, *, min_length: int, max_length: int, seed: int) -> list[str]:
    """`count` lines of `label<TAB>bits`; label `ones` or `zeros`."""
    rng = random.Random(seed)
    lengths = [n for n in range(min_length, max_length + 1) if n % 2 == 1]
    rows = []
    for _ in range(count):
        bits = "".join(rng.choice("01") for _ in range(rng.choice(lengths)))
        label = "ones" if bits.count("1") > bits.count("0") else "zeros"
        rows.append(f"{label}\t{bits}")
    return rows


def as_arrays(rows: list[str]) -> dict[str, np.ndarray]:
    """The rows as an .npz file's arrays: x (N, T) uint8, lengths (N,), y (N,) labels."""
    labels, bits = zip(*(row.split("\t") for row in rows), strict=True)
    lengths = np.array([len(text) for text in bits], dtype=np.int64)
    x = np.zeros((len(bits), int(lengths.max())), dtype=np.uint8)
    for index, text in enumerate(bits):
        x[index, : len(text)] = [int(bit) for bit in text]
    return {"x": x, "lengths": lengths, "y": np.array(labels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .tsv file to write (the .npz goes beside it)")
    parser.add_argument("--count", type=int, default=2000, help="examples (default 2000)")
    parser.add_argument("--min-length", type=int, default=5)
    parser.add_argument("--max-length", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = majority_bit_rows(
        args.count, min_length=args.min_length, max_length=args.max_length, seed=args.seed
    )
    args.out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    numbers = args.out.with_suffix(".npz")
    np.savez_compressed(numbers, **as_arrays(rows))
    print(f"wrote {len(rows)} examples to {args.out} (as text) and {numbers} (as numbers)")


if __name__ == "__main__":
    main()
