"""The held-out split of the labels: by prototype group, never by single frame, so validation cells are of
prototypes the model did not see."""

from __future__ import annotations

import numpy as np

__all__ = ["grouped_split", "label_group", "split_by_groups"]


def label_group(label: dict) -> str:
    """The group a label is split by, ``source:element or formula:phase or prototype`` ("prototype:LaH10:LaH10_Fm-3m"):
    every strained, rattled or displaced frame of one cell type is in the same group, trained on or held out."""
    o = label["origin"]
    return f"{o.get('source')}:{o.get('element') or o.get('formula')}:{o.get('phase') or o.get('prototype')}"


def grouped_split(labels: list[dict], val_share: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices (train, validation) with every prototype group wholly on one side, and every element of a
    validation group still in some training group (its energy offset is fit on training labels only).
    ``val_share`` 0 holds out nothing: a production member trained on every label."""
    groups = sorted({label_group(r) for r in labels})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    n_val = max(1, int(round(val_share * len(groups)))) if len(groups) > 1 and val_share > 0 else 0
    elements = {g: set() for g in groups}
    for r in labels:
        elements[label_group(r)].update(r["species"])
    val_groups: set[str] = set()
    for g in groups:
        if len(val_groups) >= n_val:
            break
        rest = set().union(*(elements[h] for h in groups if h != g and h not in val_groups))
        if elements[g] <= rest:
            val_groups.add(g)
    return split_by_groups(labels, val_groups)


def split_by_groups(labels: list[dict], held_out: set[str]) -> tuple[list[int], list[int]]:
    """Indices (train, validation): the labels of the ``held_out`` groups, and the rest."""
    train = [i for i, r in enumerate(labels) if label_group(r) not in held_out]
    val = [i for i, r in enumerate(labels) if label_group(r) in held_out]
    return train, val
