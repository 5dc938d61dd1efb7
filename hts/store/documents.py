"""The candidate document: one per (campaign, pressure, origin), negatives included.

Statuses, in pipeline order::

    generated -> relaxed -> tc_pending -> tc_done
                     \\-> failed | duplicate | off_hull | dyn_unstable   (negatives, with reason + stage)

References (elements, sub-binaries) carry ``role = "reference"`` and end as ``relaxed`` or
``failed``; they are not candidates and are left out of the funnel. Every block is a pydantic
model with units in its field names and no undeclared keys; the store validates each write.
"""

from __future__ import annotations

import datetime as _dt
import platform
from enum import Enum
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CandidateDoc", "FINAL_STATUSES", "NEGATIVE_STATUSES", "SCHEMA_VERSION", "STATUSES", "Status",
           "migrate_document", "now"]

SCHEMA_VERSION = 3  # 2: embedded store on SQLite; 3: typed blocks (dedup, hull), no undeclared fields


class Status(str, Enum):
    """Where a candidate stands; the value is what the store holds."""

    GENERATED = "generated"
    RELAXED = "relaxed"
    TC_PENDING = "tc_pending"
    TC_DONE = "tc_done"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    OFF_HULL = "off_hull"
    DYN_UNSTABLE = "dyn_unstable"

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(s.value for s in Status)
NEGATIVE_STATUSES = tuple(s.value for s in (Status.FAILED, Status.DUPLICATE, Status.OFF_HULL, Status.DYN_UNSTABLE))
FINAL_STATUSES = NEGATIVE_STATUSES + (Status.TC_PENDING.value, Status.TC_DONE.value)
PAST_RELAX = tuple(s.value for s in (Status.RELAXED, Status.OFF_HULL, Status.DYN_UNSTABLE, Status.TC_PENDING, Status.TC_DONE))


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=True)


class Engine(_Block):
    name: str  # "mlip" or "qe"
    model: str
    version: str


class RelaxBlock(_Block):
    n_steps: int | None = None
    converged: bool | None = None
    wall_s: float | None = None
    failure_type: str | None = None  # invalid_structure | diverged | not_converged | timeout | engine_error
    committee_size: int | None = None  # models that evaluated the relaxed cell (hts.potential.committee)
    committee_enthalpy_std_meV_per_atom: float | None = None
    committee_force_std_eV_A: float | None = None
    uncertain: bool | None = None  # above a committee threshold: to be labelled by DFT next


class DedupBlock(_Block):
    checked: bool = True
    method: str = "pymatgen StructureMatcher, same pressure and engine"


class HullBlock(_Block):
    e_above_hull_meV: float
    decomposition: dict[str, float] = Field(default_factory=dict)  # reduced formula -> fraction
    threshold_meV: float | None = None


class PhononBlock(_Block):
    """hts.stability.phonons.PhononResult without its arrays (those are in the data collection)."""

    classification: str  # stable | acoustic_noise | unstable | failed
    min_frequency_THz: float | None = None
    min_q: list[float] | None = None
    max_frequency_THz: float | None = None
    supercell: list[int] = Field(default_factory=list)
    n_displacements: int = 0
    mesh: list[int] = Field(default_factory=list)
    reason: str | None = None
    h_mean_frequency_THz: float | None = None
    min_commensurate_frequency_THz: float | None = None  # at the supercell's own q points: not interpolated
    cpu_s: float = 0.0
    wall_s: float = 0.0
    engine: str | None = None  # "qe" for phonons imported from DFT; default: the relax model


class DftBlock(_Block):
    """pw.x vc-relax of the DFT re-screen, cached per protocol and pseudopotential family."""

    key: dict
    ok: bool
    enthalpy_eV_per_atom: float | None = None
    failure: dict | None = None
    wall_s: dict | float | None = None
    warnings: list[str] = Field(default_factory=list)


class DftHullBlock(_Block):
    e_above_hull_meV: float
    mlip_e_above_hull_meV: float | None = None
    delta_meV: float | None = None
    decomposition: dict[str, float] = Field(default_factory=dict)
    references: list[str] = Field(default_factory=list)


class TcBlock(_Block):
    """DFPT result (hts.tc.dfpt, hts.tc.a2f); temperatures in K, frequencies per their suffix."""

    lambda_: float | None = Field(None, alias="lambda")
    omega_log_K: float | None = None
    omega_2_K: float | None = None
    lambda_H: float | None = None
    lambda_M: float | None = None
    omega_log_H_K: float | None = None
    omega_log_M_K: float | None = None
    split_method: str | None = None
    selected_sigma_Ry: float | None = None
    sigma_Ry: list[float] | None = None
    lambda_by_sigma: list[float] | None = None
    omega_log_by_sigma_K: list[float] | None = None
    lambda_spread: float | None = None
    lambda_matdyn: float | None = None
    mustar: list[float] | None = None
    by_mustar: dict | None = None
    tc_mcmillan_allen_dynes_K: list[float] | None = None
    tc_allen_dynes_K: list[float] | None = None
    tc_eliashberg_K: list[float] | None = None
    n_ef_states_per_spin_Ry: list[float] | float | None = None
    min_frequency_cm1: float | None = None
    dyn_stable: bool | None = None
    stability_verdict: bool | None = None
    second_mesh: dict | None = None
    delta_lambda: float | None = None
    delta_tc_allen_dynes_K: float | None = None
    dft_enthalpy_eV_per_atom: float | None = None
    engine: str | None = None
    protocol: str | None = None
    converged_protocol: bool | None = None
    label: str | None = None
    pressure_GPa: float | None = None
    cell: dict | None = None
    pseudopotentials: dict | None = None
    ecutwfc_Ry: float | None = None
    ecutrho_Ry: float | None = None
    k_mesh: list[int] | None = None
    k_mesh_fit: list[int] | None = None
    q_mesh: list[int] | None = None
    degauss_Ry: float | None = None
    smearing: str | None = None
    qe_version: str | None = None
    wall_s: dict | None = None
    cpu_s: dict | None = None
    warnings: list[str] = Field(default_factory=list)
    source: str | None = None  # e.g. "imported" for results computed outside hts


class PredictionBlock(_Block):
    round: int
    model: str
    lambda_: float = Field(alias="lambda")
    lambda_90: list[float]
    omega_log_K: float
    tc_K: float
    tc_sd_K: float
    tc_90_K: list[float]
    mustar: float
    p_stable: float | None = None


class SelectionBlock(_Block):
    round: int
    bucket: str
    score: float
    rule: str
    training_hash: str
    predicted: PredictionBlock
    at: str


class Attempt(_Block):
    """One try of a stage (or of one QE step inside it)."""

    stage: str
    ok: bool
    reason: str | None = None
    step: str | None = None
    kind: str | None = None
    message: str | None = None
    mixing_beta: float | None = None
    recover: bool | None = None
    fw_id: int | None = None
    at: str | None = None


class CandidateDoc(BaseModel):
    """Schema of a stored candidate (validated on every write). Query fields are top level."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True)

    id: str
    campaign: str
    role: Literal["candidate", "reference"] = "candidate"
    chemsys: str  # e.g. "H-La-Y" (sorted elements)
    system: str  # the campaign system this belongs to, e.g. "H-La-Y"
    formula: str  # reduced formula
    nelements: int
    pressure_GPa: float
    origin: dict
    status: Status
    reason: str | None = None
    stage: str | None = None  # stage that produced a negative status
    failure_type: str | None = None  # "workflow": given up by hts resume after the retry limit
    structure_initial: dict
    structure: dict | None = None  # relaxed by the prescreen potential
    structure_dft: dict | None = None  # relaxed by pw.x (DFT re-screen or DFPT)
    engine: Engine | None = None
    energy_eV_per_atom: float | None = None
    enthalpy_eV_per_atom: float | None = None  # H = E + PV
    volume_A3_per_atom: float | None = None
    relax: RelaxBlock | None = None
    dedup: DedupBlock | None = None
    duplicate_of: str | None = None
    e_above_hull_meV: float | None = None  # = hull.e_above_hull_meV, indexed for queries
    hull: HullBlock | None = None
    phonon: PhononBlock | None = None
    dft: DftBlock | None = None
    dft_hull: DftHullBlock | None = None
    tc: TcBlock = Field(default_factory=TcBlock)
    prediction: PredictionBlock | None = None  # latest surrogate prediction
    selection: SelectionBlock | None = None  # set when the learning loop picks it for DFPT
    warnings: list[str] = Field(default_factory=list)
    cpu_seconds: dict[str, float] = Field(default_factory=dict)
    attempts: list[Attempt] = Field(default_factory=list)
    provenance: dict = Field(default_factory=lambda: {"hts_version": _version(), "host": platform.node(), "created": now()})
    schema_version: int = SCHEMA_VERSION

    def to_store(self) -> dict:
        """The JSON document as stored (``lambda`` under its own name, unset tc fields left out)."""
        d = self.model_dump(mode="json", by_alias=True)
        d["tc"] = self.tc.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return d


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
    if doc["schema_version"] < 3:  # 2 -> 3: dedup and hull blocks
        if doc.pop("dedup_checked", None):
            doc["dedup"] = {"checked": True}
        decomposition = doc.pop("decomposition", None)
        if doc.get("e_above_hull_meV") is not None:
            doc["hull"] = {"e_above_hull_meV": doc["e_above_hull_meV"], "decomposition": decomposition or {}}
        doc["schema_version"] = 3
    return doc
