"""DFPT protocols: k and q meshes, cutoffs and smearing for the electron-phonon chain.

Meshes come from spacings in reciprocal space (|b_i| includes 2 pi, 1/Angstrom):
n_i = max(min_n, ceil(|b_i| / spacing)); the SCF k mesh is rounded up to a multiple of the q mesh
and the dense la2F mesh is ``fit_factor`` times the SCF mesh, so all three are commensurate.

- ``smoke``      demo and CI only: coarse everything; labelled unconverged in every output, gives no
                 stability verdict and no training label.
- ``screening``  hydride screening: k >= 12^3 (measured 2026-11-21: H3S at 200 GPa shows a spurious
                 -441 cm^-1 mode at k 8^3 that is gone at 12^3), q >= 4^3.
- ``converged``  denser k and q; top candidates also run a second, coarser q mesh and store
                 delta lambda and delta Tc between the two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

__all__ = ["PROTOCOLS", "ElphProtocol", "check_overrides", "get_protocol", "mesh"]


@dataclass(frozen=True)
class ElphProtocol:
    name: str
    k_spacing: float  # 1/Angstrom (2 pi included)
    min_k: int
    q_spacing: float
    min_q: int
    fit_factor: int = 2  # dense la2F k mesh = fit_factor x SCF mesh
    ecut_scale: float = 1.0  # x the family's suggested cutoffs
    smearing: str = "mv"
    degauss_Ry: float = 0.02
    el_ph_sigma_Ry: float = 0.005
    el_ph_nsigma: int = 10
    selected_sigma_Ry: float = 0.02  # smearing whose lambda is reported; all are stored
    conv_thr_Ry: float = 1e-9
    tr2_ph: float = 1e-14
    relax: bool = True  # pw.x vc-relax at the pressure before the phonons
    forc_conv_thr: float = 1e-3  # Ry/bohr
    press_conv_thr_kbar: float = 0.5
    matdyn_mesh: int = 20
    ndos: int = 200
    converged: bool = True  # False: every output says 'unconverged'
    second_q_min: int | None = None  # converged protocol: a second q mesh for delta lambda / delta Tc
    k: tuple[int, int, int] | None = None  # explicit meshes override the spacings
    q: tuple[int, int, int] | None = None
    ecutwfc_Ry: float | None = None  # explicit cutoff overrides the family's suggestion

    def as_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **kw) -> "ElphProtocol":
        return replace(self, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in kw.items() if v is not None})


PROTOCOLS = {
    "smoke": ElphProtocol("smoke", k_spacing=0.8, min_k=2, q_spacing=2.0, min_q=2, ecut_scale=0.5, degauss_Ry=0.03,
                          conv_thr_Ry=1e-8, tr2_ph=1e-12, matdyn_mesh=8, ndos=100, converged=False,
                          forc_conv_thr=1e-2, press_conv_thr_kbar=5.0),
    "screening": ElphProtocol("screening", k_spacing=0.25, min_k=12, q_spacing=0.8, min_q=4),
    "converged": ElphProtocol("converged", k_spacing=0.16, min_k=16, q_spacing=0.5, min_q=6, ecut_scale=1.2,
                              second_q_min=4, matdyn_mesh=30),
}


def check_overrides(overrides: dict) -> None:
    """Raise ValueError unless every key names an :class:`ElphProtocol` field and every value fits it."""
    known = set(ElphProtocol.__dataclass_fields__) - {"name"}
    bad = sorted(str(k) for k in overrides if k not in known)
    if bad:
        raise ValueError(f"unknown protocol override(s) {bad}; known: {sorted(known)}")
    for key, val in overrides.items():
        kind = type(getattr(PROTOCOLS["screening"], key))
        if key in ("k", "q"):
            if not (isinstance(val, list) and len(val) == 3 and all(type(x) is int and 1 <= x <= 64 for x in val)):
                raise ValueError(f"{key} must be three integers in 1..64, got {val!r}")
        elif key == "ecutwfc_Ry" or kind is float:
            if type(val) not in (int, float) or not math.isfinite(val) or val <= 0:
                raise ValueError(f"{key} must be a positive finite number, got {val!r}")
        elif key == "second_q_min":
            if val is not None and (type(val) is not int or not 1 <= val <= 64):
                raise ValueError(f"{key} must be an integer in 1..64 or null, got {val!r}")
        elif kind is int and (type(val) is not int or not 0 < val <= 10_000):
            raise ValueError(f"{key} must be a positive integer, got {val!r}")
        elif kind is bool and type(val) is not bool:
            raise ValueError(f"{key} must be true or false, got {val!r}")
        elif kind is str and val not in ("mv", "mp", "gaussian", "fd"):
            raise ValueError(f"{key} must be one of mv, mp, gaussian, fd, got {val!r}")


def get_protocol(name: str, **overrides) -> ElphProtocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown DFPT protocol {name!r}; choose from {sorted(PROTOCOLS)}")
    return PROTOCOLS[name].with_overrides(**overrides)


def mesh(reciprocal_lengths, spacing: float, minimum: int) -> tuple[int, int, int]:
    """Monkhorst-Pack divisions for reciprocal lattice vector lengths (1/Angstrom, 2 pi included)."""
    return tuple(max(int(minimum), int(math.ceil(b / spacing - 1e-9))) for b in reciprocal_lengths)


def meshes(protocol: ElphProtocol, structure, q_min: int | None = None) -> dict:
    """k, dense (la2F) k and q meshes for a pymatgen Structure, commensurate with each other."""
    b = np.asarray(structure.lattice.reciprocal_lattice.abc)
    q = protocol.q or mesh(b, protocol.q_spacing, q_min or protocol.min_q)
    k = protocol.k or mesh(b, protocol.k_spacing, protocol.min_k)
    k = tuple(qi * math.ceil(ki / qi) for ki, qi in zip(k, q))
    return {"k": k, "k_fit": tuple(protocol.fit_factor * ki for ki in k), "q": q}
