"""Training batches capped by their bond angles, so that dense cells cannot exhaust memory.

CHGNet's memory in training (forces and stresses are derivatives, so their loss keeps a second graph) grows with the
bond angles of a batch, about 0.12 MiB each (``benchmarks/batch_memory.py``): a 16-atom hydrogen cell at 250 GPa has
70,000-91,000 within the 3 A bond graph, four times a hydride frozen-phonon cell (``benchmarks/label_graph_cost.py``),
and four of them in one batch want some 42 GiB (docs/potential.md, sessions 34-35). :class:`AngleCappedBatches` keeps ``batch_size`` labels per batch but closes a
batch early when the next label would take it past ``max_angles``; a label above the cap trains alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["AngleCappedBatches", "bond_angles", "pack_batches"]


def pack_batches(order: Sequence[int], angles: Sequence[int], batch_size: int, max_angles: int) -> list[list[int]]:
    """Indices of ``order`` in consecutive batches of at most ``batch_size`` labels and ``max_angles`` bond angles
    (a label with more angles than the cap forms a batch of its own); the order is kept."""
    if batch_size < 1 or max_angles < 1:
        raise ValueError(f"batch_size and max_angles must be positive, got {batch_size} and {max_angles}")
    batches, batch, total = [], [], 0
    for i in order:
        a = int(angles[i])
        if batch and (len(batch) == batch_size or total + a > max_angles):
            batches.append(batch)
            batch, total = [], 0
        batch.append(int(i))
        total += a
    if batch:
        batches.append(batch)
    return batches


def bond_angles(dataset) -> list[int]:
    """Bond angles (three-body terms) of each item of a CHGNet ``StructureData`` (its graphs, which it caches)."""
    return [int(dataset[i][0].bond_graph.shape[0]) for i in range(len(dataset))]


class AngleCappedBatches:
    """A batch sampler for torch's DataLoader: each epoch a fresh shuffle (seeded, so a run repeats), packed by
    :func:`pack_batches`."""

    def __init__(self, angles: Sequence[int], batch_size: int, max_angles: int, seed: int = 0):
        self.angles, self.batch_size, self.max_angles = list(angles), batch_size, max_angles
        self.seed, self.epoch = seed, 0
        pack_batches([], self.angles, batch_size, max_angles)  # refuses bad settings before training starts

    def _batches(self, epoch: int) -> list[list[int]]:
        import torch

        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.angles), generator=g).tolist()
        return pack_batches(order, self.angles, self.batch_size, self.max_angles)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return len(self._batches(self.epoch))
