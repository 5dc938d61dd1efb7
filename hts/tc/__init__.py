"""Electron-phonon superconductivity: moments of alpha2F and Tc estimates."""

from hts.tc.eliashberg import eliashberg_tc
from hts.tc.formulas import (
    a2f_moments,
    allen_dynes_tc,
    mcmillan_allen_dynes_tc,
    mcmillan_tc,
    tc_summary,
)

__all__ = [
    "a2f_moments",
    "allen_dynes_tc",
    "eliashberg_tc",
    "mcmillan_allen_dynes_tc",
    "mcmillan_tc",
    "tc_summary",
]
