"""The candidate document: one per (campaign, pressure, origin), negatives included.

Statuses, in pipeline order::

    generated -> relaxed -> tc_pending -> tc_done
                     \\-> failed | duplicate | off_hull | dyn_unstable   (negatives, with reason + stage)

References (elements, sub-binaries) carry ``role = "reference"`` and end as
``relaxed`` or ``failed``; they are not candidates and are left out of the funnel.
"""

from __future__ import annotations

import datetime as _dt
import platform
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CandidateDoc", "FINAL_STATUSES", "NEGATIVE_STATUSES", "SCHEMA_VERSION", "STATUSES", "migrate_document", "now"]

STATUSES = ("generated", "relaxed", "failed", "duplicate", "off_hull", "dyn_unstable", "tc_pending", "tc_done")
NEGATIVE_STATUSES = ("failed", "duplicate", "off_hull", "dyn_unstable")
FINAL_STATUSES = NEGATIVE_STATUSES + ("tc_pending", "tc_done")
SCHEMA_VERSION = 2  # 2: embedded store on SQLite (hts store migrate); documents unchanged otherwise


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class Engine(BaseModel):
    name: str  # "mlip" or "qe"
    model: str
    version: str


class CandidateDoc(BaseModel):
    """Schema of a stored candidate (validated on every write)."""

    model_config = ConfigDict(extra="allow")

    id: str
    campaign: str
    role: Literal["candidate", "reference"] = "candidate"
    chemsys: str  # e.g. "H-La-Y" (sorted elements)
    system: str  # the campaign system this belongs to, e.g. "H-La-Y"
    formula: str  # reduced formula
    nelements: int
    pressure_GPa: float
    origin: dict
    status: Literal[STATUSES]  # type: ignore[valid-type]
    reason: str | None = None
    stage: str | None = None  # stage that produced a negative status
    structure_initial: dict
    structure: dict | None = None  # relaxed
    engine: Engine | None = None
    energy_eV_per_atom: float | None = None
    enthalpy_eV_per_atom: float | None = None  # H = E + PV
    volume_A3_per_atom: float | None = None
    relax: dict | None = None
    duplicate_of: str | None = None
    e_above_hull_meV: float | None = None
    decomposition: dict | None = None
    phonon: dict | None = None
    tc: dict = Field(default_factory=dict)  # DFPT block (hts.tc): lambda, omega_log_K, omega_2_K, tc_*_K, protocol, ...
    prediction: dict | None = None  # latest surrogate prediction (round, lambda, omega_log_K, tc_K, tc_sd_K, p_stable)
    selection: dict | None = None  # set when the learning loop picks it for DFPT (round, bucket, score, predicted)
    warnings: list[str] = Field(default_factory=list)
    cpu_seconds: dict[str, float] = Field(default_factory=dict)
    attempts: list[dict] = Field(default_factory=list)
    provenance: dict = Field(default_factory=lambda: {"hts_version": _version(), "host": platform.node(), "created": now()})
    schema_version: int = SCHEMA_VERSION


@lru_cache(maxsize=1)
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hts")
    except PackageNotFoundError:
        return "0+unknown"


def migrate_document(doc: dict) -> dict:
    """A stored document of an earlier schema version brought to :data:`SCHEMA_VERSION`."""
    doc = dict(doc)
    if doc.get("schema_version", 1) < 2:
        doc["schema_version"] = 2  # version 1 -> 2 changed the store, not the fields
    return doc
