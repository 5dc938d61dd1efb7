"""Campaign configuration: a YAML file validated by pydantic.

Errors name the offending field, e.g. ``pressures_GPa.0: pressure must be >= 0 GPa``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pymatgen.core import Element

__all__ = ["CampaignConfig", "ConfigError", "format_errors", "load_config"]


class ConfigError(ValueError):
    """A campaign file that cannot be read or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_element(symbol: str) -> str:
    if not Element.is_valid_symbol(symbol):
        raise ValueError(f"unknown element {symbol!r}")
    return symbol


class SubstitutionSettings(_Strict):
    """Substitutional ternaries from the shipped binary/ternary hydride prototypes."""

    enabled: bool = True
    prototypes: list[str] | None = None  # None: every shipped prototype
    rules: list[Literal["identity", "z_neighbour", "same_group", "ionic_radius", "probability"]] = [
        "identity",
        "z_neighbour",
        "same_group",
        "ionic_radius",
        "probability",
    ]
    probability_threshold: float = Field(0.001, gt=0, lt=1)
    ionic_radius_tolerance: float = Field(0.15, gt=0, lt=1)
    max_atoms: int = Field(24, ge=1)
    max_candidates: int | None = Field(None, ge=1)


class RandomSettings(_Strict):
    """AIRSS-style random symmetric cells (pyxtal)."""

    enabled: bool = True
    n_structures: int = Field(20, ge=0)
    stoichiometries: list[str] = Field(default_factory=list)  # e.g. ["LaYH6"]; empty: from prototypes
    formula_units: list[int] = [1]
    space_groups: list[int] | None = None  # None: sample 2..230 weighted to high symmetry
    max_atoms: int = Field(16, ge=1)
    seed: int = 0
    # minimum separations in Angstrom at 100 GPa, scaled by (V(P)/V(100))^(1/3)
    min_sep_HH: float = Field(0.8, gt=0)
    min_sep_HX: float = Field(1.1, gt=0)
    min_sep_XX: float = Field(1.8, gt=0)
    volume_factor: float = Field(1.0, gt=0)

    @field_validator("space_groups")
    @classmethod
    def _sg_range(cls, v):
        if v is not None:
            bad = [g for g in v if not 1 <= g <= 230]
            if bad:
                raise ValueError(f"space groups must be 1..230, got {bad}")
        return v


class GeneratorSettings(_Strict):
    substitution: SubstitutionSettings = SubstitutionSettings()
    random: RandomSettings = RandomSettings()


class RelaxSettings(_Strict):
    """Relaxation at pressure with an ML potential (prescreen)."""

    engine: Literal["mlip"] = "mlip"
    model: str = "chgnet"  # the model benchmarks/mlip_fidelity.py supports (README: MLIP fidelity)
    fmax_eV_A: float = Field(0.05, gt=0)
    max_steps: int = Field(200, ge=1)
    optimizer: Literal["FIRE", "BFGS", "LBFGS"] = "BFGS"
    keep_symmetry: bool = True
    symprec: float = Field(0.01, gt=0)
    max_volume_ratio: float = Field(3.0, gt=1)
    min_distance_A: float = Field(0.5, gt=0)
    workers: int = Field(1, ge=1)
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")  # torch device of the MLIP (a GPU node: "cuda")
    torch_threads: int | None = Field(None, ge=1)
    max_wall_s: float | None = Field(None, gt=0)  # per structure; beyond it a 'timeout' failure record


class ReferenceSettings(_Strict):
    """Hull references computed by hts at the same pressure with the same engine."""

    elements: bool = True
    element_phases: int | None = Field(None, ge=1)  # trial phases per element (None: all)
    sub_binaries: bool = True
    max_steps: int = Field(200, ge=1)  # references set the hull: a larger step budget than candidates
    mp_api: bool = False  # optional: extra reference structures from the Materials Project


class StabilitySettings(_Strict):
    hull_threshold_meV: float = Field(50.0, ge=0)


class PhononSettings(_Strict):
    enabled: bool = True
    filter: bool = False  # MLIP phonons call 0-11% of DFT-stable CompSC hydrides stable (benchmarks/mlip_fidelity.py): stored, not a filter, unless asked
    supercell_min_length_A: float = Field(6.0, gt=0)
    max_supercell_atoms: int = Field(64, ge=1)
    displacement_A: float = Field(0.01, gt=0)
    mesh: int = Field(8, ge=1)
    imaginary_tol_THz: float = Field(0.5, ge=0)
    gamma_acoustic_tol_THz: float = Field(1.0, ge=0)
    max_candidates: int | None = Field(None, ge=0)


class TcSettings(_Strict):
    """Electron-phonon Tc of the survivors by DFPT (Quantum ESPRESSO; hts.tc.dfpt)."""

    mustar: list[float] = [0.10, 0.13]
    enabled: bool = False  # run the DFPT stage in `hts run` / the flow
    protocol: Literal["smoke", "screening", "converged"] = "screening"
    protocol_overrides: dict = Field(default_factory=dict)  # e.g. {"k": [8, 8, 8], "q": [2, 2, 2], "ecutwfc_Ry": 40}
    pseudo_family: str = "debian-lda-vbc"
    pseudo_dir: str | None = None  # move the family to another directory (SSSP, pslibrary on a cluster)
    pseudopotentials: dict[str, dict] = Field(default_factory=dict)  # element -> {file, ecutwfc, ecutrho}
    qe_bin_dir: str | None = None  # None: pw.x etc. from PATH
    mpi_command: str = "mpirun -np {nprocs}"
    nprocs: int = Field(1, ge=1)
    npool: int = Field(1, ge=1)  # k-point pools (-nk) for pw.x and ph.x; must divide nprocs
    max_candidates: int | None = Field(None, ge=0)  # per run; learning selections first, then lowest e_above_hull
    max_atoms: int | None = Field(None, ge=1)  # skip (leave tc_pending) larger cells
    step_timeout_s: float | None = Field(None, gt=0)  # wall-time limit of one QE run
    max_retries: int = Field(2, ge=0)
    dft_rescreen: bool | None = None  # pw.x re-relax + DFT hull before DFPT; None: on except for the smoke protocol
    second_mesh_top: int = Field(1, ge=0)  # protocols with a second q mesh: run it for the first N candidates of a run
    workdir: str = "hts_dfpt"  # one sub-directory per candidate id; ph.x recover restarts from it
    keep_wavefunctions: bool = False

    @field_validator("mustar")
    @classmethod
    def _mu_range(cls, v):
        if not v or any(not 0 <= m < 0.5 for m in v):
            raise ValueError("mu* values must be in [0, 0.5)")
        return v

    @model_validator(mode="after")
    def _pools_divide_procs(self):
        if self.nprocs % self.npool:
            raise ValueError(f"npool ({self.npool}) must divide nprocs ({self.nprocs})")
        return self


class LearningSettings(_Strict):
    """Surrogate-guided choice of DFPT targets (Shipley et al. 2021 style loop)."""

    enabled: bool = False
    model: Literal["forest", "gp"] = "forest"
    n_per_round: int = Field(5, ge=1)
    exploration_share: float = Field(0.3, ge=0, le=1)  # share of a round given to middling and low predictions
    rule: Literal["ucb", "ei", "greedy"] = "ucb"
    kappa: float = Field(1.0, ge=0)  # UCB weight of the Tc standard deviation
    mustar: float = Field(0.10, ge=0, lt=0.5)
    compsc: bool = True  # add CompSC literature data to the training set
    compsc_path: str | None = None  # default ../shared/data/compsc next to the project
    model_dir: str = "hts_models"
    seed: int = 0


class StoreSettings(_Strict):
    """Where documents go: an embedded on-disk store (default) or a MongoDB URI."""

    path: str = "hts_store"  # embedded store directory (relative to the working directory)
    uri: str | None = None  # mongodb://host/?tls=true ; no password here: env HTS_MONGO_URI or HTS_MONGO_URI_FILE
    database: str = "hts"

    @field_validator("uri")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        if v and re.search(r"://[^/@]*:[^/@]*@", v):
            raise ValueError("store.uri holds a password; keep credentials out of configs: set env HTS_MONGO_URI, "
                             "or HTS_MONGO_URI_FILE naming a file outside the repository")
        return v


class CampaignConfig(_Strict):
    name: str = Field(..., min_length=1)
    systems: list[str] = Field(..., min_length=1)  # e.g. ["La-Y-H"]
    pressures_GPa: list[float] = Field(..., min_length=1)
    generators: GeneratorSettings = GeneratorSettings()
    relax: RelaxSettings = RelaxSettings()
    references: ReferenceSettings = ReferenceSettings()
    stability: StabilitySettings = StabilitySettings()
    phonons: PhononSettings = PhononSettings()
    tc: TcSettings = TcSettings()
    learning: LearningSettings = LearningSettings()
    store: StoreSettings = StoreSettings()

    @field_validator("systems")
    @classmethod
    def _systems(cls, v):
        out = []
        for sys_ in v:
            els = [e.strip() for e in sys_.split("-") if e.strip()]
            for e in els:
                _check_element(e)
            if "H" not in els:
                raise ValueError(f"system {sys_!r} contains no hydrogen")
            if len(els) < 2:
                raise ValueError(f"system {sys_!r} needs at least one element besides H")
            out.append("-".join(sorted(set(els))))
        return out

    @field_validator("pressures_GPa")
    @classmethod
    def _pressures(cls, v):
        for p in v:
            if p < 0:
                raise ValueError(f"pressure must be >= 0 GPa, got {p}")
            if p > 1000:
                raise ValueError(f"pressure {p} GPa is beyond 1 TPa; check the unit (GPa)")
        return v

    @model_validator(mode="after")
    def _stoich(self):
        from pymatgen.core import Composition

        allowed = {e for s in self.systems for e in s.split("-")}
        for f in self.generators.random.stoichiometries:
            try:
                comp = Composition(f)
            except Exception as exc:  # pymatgen raises several types
                raise ValueError(f"generators.random.stoichiometries: cannot parse {f!r}") from exc
            extra = {str(e) for e in comp.elements} - allowed
            if extra:
                raise ValueError(
                    f"generators.random.stoichiometries: {f!r} has elements {sorted(extra)} "
                    f"outside the campaign systems {self.systems}"
                )
        return self

    @property
    def elements(self) -> list[str]:
        return sorted({e for s in self.systems for e in s.split("-")})


def format_errors(exc: ValidationError) -> str:
    """One line per invalid field: ``  field.path: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign YAML file; raises :class:`ConfigError` with field names."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read campaign file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid campaign configuration\n{format_errors(exc)}") from exc
