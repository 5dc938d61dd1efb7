"""Campaign configuration: a YAML file validated by pydantic.

Errors name the offending field, e.g. ``pressures_GPa.0: pressure must be >= 0 GPa``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

__all__ = ["CampaignConfig", "ConfigError", "format_errors", "load_config"]


class ConfigError(ValueError):
    """A campaign file that cannot be read or does not validate."""


from hts.config_generators import GeneratorSettings, RandomSettings, StrictBlock, SubstitutionSettings, check_element  # noqa: F401


class RelaxSettings(StrictBlock):
    """Relaxation at pressure with an ML potential (prescreen)."""

    engine: Literal["mlip"] = "mlip"
    model: str = "chgnet"  # covers every element; the shipped configs name the fine-tuned data/potential/model,
    # which benchmarks/mlip_fidelity.py supports for the elements it covers (docs/potential.md)
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
    # committee: more models evaluated on each relaxed candidate (hts.potential.committee); their spread is stored
    # and candidates above either threshold are marked relax.uncertain, for labelling and the next fine-tune
    committee: list[str] = Field(default_factory=list)
    uncertain_enthalpy_meV_per_atom: float = Field(25.0, gt=0)
    uncertain_force_eV_A: float = Field(0.25, gt=0)

    @field_validator("model")
    @classmethod
    def _known_model(cls, v):
        from hts.relax.mlip import OFFLINE_MODELS, is_finetuned

        if v not in OFFLINE_MODELS and not is_finetuned(v):
            if "/" in v:  # a path (a config file's relative one is made absolute against the file's folder)
                raise ValueError(f"no fine-tuned model (model.json) in {v}")
            raise ValueError(f"unknown relax.model {v!r}; offline models: {sorted(OFFLINE_MODELS)}, or a fine-tuned "
                             "model directory (hts finetune)")
        return v

    @field_validator("committee")
    @classmethod
    def _known_members(cls, v):
        for m in v:
            cls._known_model(m)
        return v

    @model_validator(mode="after")
    def _one_energy_scale(self):
        from hts.relax.mlip import is_finetuned

        kinds = {is_finetuned(m) for m in (self.model, *self.committee)}
        if len(kinds) > 1:
            raise ValueError("relax.committee: fine-tuned and shipped models have different energy zeros; "
                             "make the committee of fine-tuned models only (hts finetune --seed N), or shipped ones only")
        return self


class ReferenceSettings(StrictBlock):
    """Hull references computed by hts at the same pressure with the same engine."""

    elements: bool = True
    element_phases: int | None = Field(None, ge=1)  # trial phases per element (None: all)
    sub_binaries: bool = True
    max_steps: int = Field(200, ge=1)  # references set the hull: a larger step budget than candidates
    mp_api: bool = False  # optional: extra reference structures from the Materials Project


class StabilitySettings(StrictBlock):
    hull_threshold_meV: float = Field(50.0, ge=0)


class PhononSettings(StrictBlock):
    enabled: bool = True
    filter: bool = False  # MLIP phonons call 0-11% of DFT-stable CompSC hydrides stable (benchmarks/mlip_fidelity.py): stored, not a filter, unless asked
    supercell_min_length_A: float = Field(6.0, gt=0)
    max_supercell_atoms: int = Field(64, ge=1)
    displacement_A: float = Field(0.01, gt=0)
    mesh: int = Field(8, ge=1)
    imaginary_tol_THz: float = Field(0.5, ge=0)
    gamma_acoustic_tol_THz: float = Field(1.0, ge=0)
    max_candidates: int | None = Field(None, ge=0)


class PseudoFile(StrictBlock):
    """One user-given pseudopotential: a file name in the family's directory and its suggested cutoffs (Ry)."""

    file: str = Field(..., min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")
    ecutwfc: float = Field(..., gt=0, le=1000)
    ecutrho: float | None = Field(None, gt=0, le=8000)


class TcSettings(StrictBlock):
    """Electron-phonon Tc of the survivors by DFPT (Quantum ESPRESSO; hts.tc.dfpt)."""

    mustar: list[float] = [0.10, 0.13]
    enabled: bool = False  # run the DFPT stage in `hts run` / the flow
    protocol: Literal["smoke", "screening", "converged"] = "screening"
    protocol_overrides: dict = Field(default_factory=dict)  # e.g. {"k": [8, 8, 8], "q": [2, 2, 2], "ecutwfc_Ry": 40}
    pseudo_family: str = "debian-lda-vbc"
    pseudo_dir: str | None = None  # move the family to another directory (SSSP, pslibrary on a cluster)
    pseudopotentials: dict[str, PseudoFile] = Field(default_factory=dict)  # element -> {file, ecutwfc, ecutrho}
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

    @field_validator("protocol_overrides")
    @classmethod
    def _known_overrides(cls, v):
        from hts.tc.protocols import check_overrides

        check_overrides(v)
        return v

    @field_validator("mpi_command")
    @classmethod
    def _template_formats(cls, v):
        try:
            v.format(nprocs=2)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(f"mpi_command {v!r} does not format with {{nprocs}} alone ({exc.__class__.__name__})") from None
        if any(c in v for c in "\n\r\x00;|&`$<>"):
            raise ValueError("mpi_command holds a shell metacharacter or newline; give the launcher and its options only")
        return v

    @model_validator(mode="after")
    def _family_exists(self):
        from hts.dft.pseudo import shipped_families

        if self.pseudo_family not in shipped_families() and not self.pseudopotentials:
            raise ValueError(f"unknown pseudo_family {self.pseudo_family!r}; shipped: {shipped_families()} "
                             "(or give tc.pseudopotentials)")
        return self

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


class LearningSettings(StrictBlock):
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


class StoreSettings(StrictBlock):
    """Where documents go: an embedded on-disk store (default) or a MongoDB URI."""

    path: str = "hts_store"  # embedded store directory (relative to the working directory)
    uri: str | None = None  # mongodb://host/?tls=true ; no password here: env HTS_MONGO_URI or HTS_MONGO_URI_FILE
    database: str = "hts"

    @field_validator("uri")
    @classmethod
    def _no_secret(cls, v: str | None) -> str | None:
        from hts.store.uri import secret_in_uri

        if v is None:
            return v
        if not re.match(r"^mongodb(\+srv)?://[^\s\x00]+$", v):
            raise ValueError("store.uri must be a mongodb:// or mongodb+srv:// URI without spaces")
        what = secret_in_uri(v)
        if what:
            raise ValueError(f"store.uri holds a secret ({what}); keep credentials out of configs: set env "
                             "HTS_MONGO_URI, or HTS_MONGO_URI_FILE naming a file outside the repository")
        return v

    @field_validator("path", "database")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "\x00" in v or "\n" in v:
            raise ValueError("must be a non-empty name without NUL or newline")
        return v


CAMPAIGN_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # used in file names and queries


class CampaignConfig(StrictBlock):
    name: str = Field(..., pattern=CAMPAIGN_NAME)  # letters, digits, '.', '_', '-'; at most 64
    systems: list[str] = Field(..., min_length=1, max_length=100)  # e.g. ["La-Y-H"]
    pressures_GPa: list[float] = Field(..., min_length=1, max_length=100)
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
            parts = [e.strip() for e in sys_.split("-")]
            if not all(parts):
                raise ValueError(f"system {sys_!r}: write elements joined by '-', e.g. La-Y-H")
            for e in parts:
                check_element(e)
            els = set(parts)
            if len(els) != len(parts):
                raise ValueError(f"system {sys_!r} names an element twice")
            if "H" not in els:
                raise ValueError(f"system {sys_!r} contains no hydrogen")
            if len(els) < 2:
                raise ValueError(f"system {sys_!r} needs at least one element besides H")
            if len(els) > 5:
                raise ValueError(f"system {sys_!r} has more than 5 elements")
            out.append("-".join(sorted(els)))
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
            if not isinstance(f, str) or not re.fullmatch(r"([A-Z][a-z]?([1-9]\d*)?)+", f):
                raise ValueError(f"generators.random.stoichiometries: {f!r} is not a formula such as LaH10 "
                                 "(element symbols with whole, positive counts)")
            try:
                comp = Composition(f)
            except Exception:  # pymatgen raises several types  # noqa: BLE001
                raise ValueError(f"generators.random.stoichiometries: cannot parse {f!r}") from None
            if any(a <= 0 or a != int(a) for a in comp.values()) or not len(comp):
                raise ValueError(f"generators.random.stoichiometries: {f!r} needs whole, positive counts")
            if comp.num_atoms > self.generators.random.max_atoms:
                raise ValueError(f"generators.random.stoichiometries: {f!r} has more atoms ({comp.num_atoms:g}) than "
                                 f"generators.random.max_atoms ({self.generators.random.max_atoms})")
            extra = {str(e) for e in comp.elements} - allowed
            if extra:
                raise ValueError(
                    f"generators.random.stoichiometries: {f!r} has elements {sorted(extra)} "
                    f"outside the campaign systems {self.systems}"
                )
        return self

    @model_validator(mode="after")
    def _model_covers_elements(self):
        from hts.relax.mlip import is_finetuned

        for model in (self.relax.model, *self.relax.committee):
            if is_finetuned(model):
                import json

                covered = json.loads((Path(model) / "model.json").read_text())["elements"]
                outside = sorted(set(self.elements) - set(covered))
                if outside:
                    raise ValueError(f"relax model {model} was fine-tuned on {covered}, not {outside}")
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
    """Read and validate a campaign YAML file; raises :class:`ConfigError` with field names.

    The file is read defensively (:mod:`hts.safe_yaml`: size, nesting, UTF-8, duplicate keys, aliases), so
    every reason a run could fail that the file already shows is reported here, before anything runs."""
    from hts.safe_yaml import YAMLInputError, load_yaml_file

    path = Path(path)
    try:
        data = load_yaml_file(path)
    except YAMLInputError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    _models_relative_to(data, path.parent)
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid campaign configuration\n{format_errors(exc)}") from None


def _models_relative_to(data: dict, folder: Path) -> None:
    """Make the relative model directories of ``relax.model`` and ``relax.committee`` absolute, against the
    config file's folder: a config names its model the same way from any working directory (``make demo`` runs
    in demo_output/, a cluster job in its launch directory)."""
    from hts.relax.mlip import OFFLINE_MODELS

    relax = data.get("relax")
    if not isinstance(relax, dict):
        return

    def resolve(m):
        if not isinstance(m, str) or m in OFFLINE_MODELS or Path(m).is_absolute():
            return m
        if "/" not in m and not (folder / m).is_dir():
            return m  # a name, not a path: refused as an unknown model
        return str((folder / m).resolve())

    if "model" in relax:
        relax["model"] = resolve(relax["model"])
    if isinstance(relax.get("committee"), list):
        relax["committee"] = [resolve(m) for m in relax["committee"]]
