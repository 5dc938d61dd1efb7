"""Campaign configuration, the generator blocks: substitution from prototypes and random cells."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Element

from hts.generate.random_cells import MAX_COMBINATIONS

__all__ = ["GeneratorSettings", "RandomSettings", "StrictBlock", "SubstitutionSettings", "check_element"]


class StrictBlock(BaseModel):
    """Base of every config block: unknown keys and non-finite numbers (.nan, .inf) are refused."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def check_element(symbol: str) -> str:
    if not Element.is_valid_symbol(symbol):
        raise ValueError(f"unknown element {symbol!r}")
    return symbol


class SubstitutionSettings(StrictBlock):
    """Substitutional ternaries from the shipped binary/ternary hydride prototypes."""

    enabled: bool = True
    # None: the library's DEFAULT_PROTOTYPES (a prototype with in_default_search False is drawn only when named)
    prototypes: list[str] | None = Field(None, min_length=1)
    rules: list[Literal["identity", "z_neighbour", "same_group", "ionic_radius", "probability"]] = Field(min_length=1, default=[
        "identity",
        "z_neighbour",
        "same_group",
        "ionic_radius",
        "probability",
    ])
    probability_threshold: float = Field(0.001, gt=0, lt=1)
    ionic_radius_tolerance: float = Field(0.15, gt=0, lt=1)
    max_atoms: int = Field(24, ge=1, le=500)
    max_candidates: int | None = Field(None, ge=1)

    @field_validator("prototypes")
    @classmethod
    def _known_prototypes(cls, v):
        from hts.generate.prototypes import PROTOTYPES

        bad = [p for p in v or [] if p not in PROTOTYPES]
        if bad:
            raise ValueError(f"unknown prototype(s) {bad}; known: {sorted(PROTOTYPES)}")
        return v


class RandomSettings(StrictBlock):
    """AIRSS-style random symmetric cells (pyxtal), ``n_structures`` distinct cells per system and pressure.

    A system takes the stoichiometries whose elements are exactly its own; formula units count the
    primitive cell; space groups are drawn by how many Wyckoff combinations hold the composition, capped at
    ``group_weight_cap`` (a lower cap favours high-symmetry groups; 32 was the default until session 17).
    Relaxations of random cells are abandoned after ``abandon_after_steps`` when their enthalpy is more
    than ``abandon_above_meV_per_atom`` above the best of that composition and pressure so far."""

    enabled: bool = True
    n_structures: int = Field(20, ge=0)
    stoichiometries: list[str] = Field(default_factory=list)  # e.g. ["LaYH6"]; empty: from prototypes
    formula_units: list[Annotated[int, Field(ge=1, le=64)]] = Field(default=[1], min_length=1)
    space_groups: list[int] | None = Field(None, min_length=1)  # None: hts.generate.random_cells.DEFAULT_SPACE_GROUPS
    h2_units: bool = False  # hydrogen placed as H2 molecules (random orientation) instead of atoms
    group_weight_cap: int = Field(MAX_COMBINATIONS, ge=1)  # a group's weight: its Wyckoff combinations, at most this many
    abandon_after_steps: int = Field(15, ge=1)
    abandon_above_meV_per_atom: float | None = Field(500.0, gt=0)
    max_atoms: int = Field(16, ge=1, le=500)
    seed: int = Field(0, ge=0, lt=2**63)
    # minimum separations in Angstrom at 100 GPa, scaled by (V(P)/V(100))^(1/3)
    min_sep_HH: float = Field(0.8, gt=0)
    min_sep_HX: float = Field(1.1, gt=0)
    min_sep_XX: float = Field(1.8, gt=0)
    volume_factor: float = Field(1.0, gt=0, le=10)

    @field_validator("space_groups")
    @classmethod
    def _sg_range(cls, v):
        if v is not None:
            bad = [g for g in v if not 1 <= g <= 230]
            if bad:
                raise ValueError(f"space groups must be 1..230, got {bad}")
        return v


class GeneratorSettings(StrictBlock):
    substitution: SubstitutionSettings = SubstitutionSettings()
    random: RandomSettings = RandomSettings()
