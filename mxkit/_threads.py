"""A temporary torch intra-op thread count (used by the coarse fit and the benchmarks)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads (None: leave as is), then restore the count.

    Yields the thread count in effect inside the block.
    """
    import torch

    before = torch.get_num_threads()
    if n is None or int(n) == before:
        yield before
        return
    torch.set_num_threads(int(n))
    try:
        yield int(n)
    finally:
        torch.set_num_threads(before)
