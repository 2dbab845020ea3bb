"""Write the synthetic majority-bit task: bit strings as text, labelled by which bit outnumbers
the other (odd lengths, so there is no tie). A classifier must count over the whole string,
which no single position tells: the RNN tutorials' toy task for sequence classification.

    python scripts/majority_bits.py bits.tsv                # 2,000 examples, lengths 5 to 25
    charnn train configs/majority-bit.yaml --data bits.tsv
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .tsv file to write")
    parser.add_argument("--count", type=int, default=2000, help="examples (default 2000)")
    parser.add_argument("--min-length", type=int, default=5)
    parser.add_argument("--max-length", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = majority_bit_rows(
        args.count, min_length=args.min_length, max_length=args.max_length, seed=args.seed
    )
    args.out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} examples to {args.out}")


if __name__ == "__main__":
    main()
