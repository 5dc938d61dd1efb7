"""What a stage module receives and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hts.config import CampaignConfig

__all__ = ["ArrayReader", "StageContext", "Verdicts", "add_attempt", "add_cpu", "add_warning"]


class ArrayReader:
    """Read-only access to a store's data collection (arrays, learning history)."""

    def __init__(self, store):
        self._store = store

    def get_data_many(self, doc_ids: list[str], kind: str) -> dict[str, dict]:
        return self._store.get_data_many(doc_ids, kind)

    def data_of(self, doc_id: str) -> dict[str, dict]:
        return self._store.data_of(doc_id)


@dataclass
class Verdicts:
    """Documents to write in one bulk upsert, arrays for the data collection: (id, kind, payload), and DFT
    labels for the potential (the ``labels`` collection, :mod:`hts.label.frames`)."""

    docs: list[dict] = field(default_factory=list)
    data: list[tuple[str, str, dict]] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)


@dataclass
class StageContext:
    """The configuration, the candidates a queue job is limited to (``ids``), a progress callback
    ``progress(stage, n_total) -> tick(n)``, stage options (e.g. ``second_mesh_ids`` for tc) and a
    read-only view of the data collection (``data``)."""

    cfg: CampaignConfig
    ids: list[str] | None = None
    progress: Callable | None = None
    options: dict = field(default_factory=dict)
    data: "ArrayReader | None" = None

    def ticker(self, stage: str, total: int) -> Callable:
        return self.progress(stage, total) if self.progress else (lambda n=1: None)

    def restrict(self, crit: dict) -> dict:
        """``crit`` limited to ``ids`` when the job was given some."""
        return crit if self.ids is None else {**crit, "id": {"$in": list(self.ids)}}


def add_cpu(doc: dict, stage: str, seconds: float) -> None:
    doc["cpu_seconds"] = {**doc.get("cpu_seconds", {}), stage: round(float(seconds), 4)}


def add_attempt(doc: dict, **attempt) -> None:
    doc["attempts"] = doc.get("attempts", []) + [attempt]


def add_warning(doc: dict, text: str) -> None:
    doc["warnings"] = sorted(set(doc.get("warnings", [])) | {text})
