"""Relaxation at constant pressure with an ML potential.

Pressure enters through ASE's ``FrechetCellFilter(scalar_pressure=P)``; the stored
enthalpy is H = E + P V. A relaxation that diverges (non-finite energy, volume ratio
outside bounds, atoms closer than a bound) or does not converge becomes a failure
result with a reason, never an exception.
"""

from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from hts.relax.mlip import get_calculator, model_version, set_torch_threads
from hts.units import GPA_TO_EV_PER_A3

__all__ = ["RelaxResult", "MLIPRelaxMaker", "min_distance"]


class _Stop(RuntimeError):
    """Ends a relaxation early as a typed failure (diverged | timeout)."""

    def __init__(self, reason: str, failure_type: str):
        super().__init__(reason)
        self.failure_type = failure_type


def _diverged(why: str) -> _Stop:
    return _Stop(f"relaxation diverged: {why}", "diverged")


@dataclass
class RelaxResult:
    """Outcome of one relaxation. Energies in eV (total), volume in Angstrom^3."""

    ok: bool
    structure: Structure | None
    energy_eV: float | None = None
    enthalpy_eV: float | None = None
    volume_A3: float | None = None
    n_atoms: int = 0
    n_steps: int = 0
    converged: bool = False
    reason: str | None = None
    failure_type: str | None = None  # invalid_structure | diverged | not_converged | timeout | engine_error | abandoned
    cpu_s: float = 0.0
    wall_s: float = 0.0
    trajectory: dict = field(default_factory=dict)  # energies, volumes per step (big-array store)

    @property
    def enthalpy_per_atom(self) -> float | None:
        return None if self.enthalpy_eV is None else self.enthalpy_eV / self.n_atoms

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("structure")
        d.pop("trajectory")
        return d


def min_distance(atoms) -> float:
    """Shortest interatomic distance (Angstrom) of ASE ``atoms``, periodic images included."""
    if len(atoms) < 2:
        # a single atom: nearest periodic image
        return float(min(np.linalg.norm(atoms.cell, axis=1)))
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    return float(d.min())


@dataclass
class MLIPRelaxMaker:
    """Relax structures at a scalar pressure with an offline MLIP (many per call).

    Parameters mirror atomate2's ForceFieldRelaxMaker: ``fmax`` in eV/Angstrom,
    ``max_steps`` optimizer steps; ``keep_symmetry`` adds ASE's FixSymmetry.
    """

    model: str = "chgnet"  # the configuration default (hts.config.RelaxSettings)
    fmax: float = 0.05
    max_steps: int = 200
    optimizer: str = "BFGS"
    keep_symmetry: bool = True
    symprec: float = 0.01
    max_volume_ratio: float = 3.0
    min_distance_A: float = 0.5
    workers: int = 1
    device: str = "cpu"  # torch device of the model
    torch_threads: int | None = None
    max_wall_s: float | None = None  # per structure; beyond it the relaxation is a 'timeout' failure
    abandon_after_steps: int | None = None  # with abandon_above_eV_per_atom: early abandonment (random search)
    abandon_above_eV_per_atom: float | None = None  # enthalpy limit checked once, after abandon_after_steps
    calculator: object | None = field(default=None, repr=False)  # an ASE calculator used instead of loading
    # ``model`` (in this process only, e.g. hts.potential.committee.MeanCalculator)

    @property
    def engine_version(self) -> str:
        return model_version(self.model)

    def relax(self, structure: Structure, pressure_GPa: float) -> RelaxResult:
        """Relax one structure; never raises for physics failures."""
        from ase.constraints import FixSymmetry
        from ase.spacegroup.symmetrize import refine_symmetry
        from ase.filters import FrechetCellFilter
        from ase.optimize import BFGS, FIRE, LBFGS

        t0, c0 = time.time(), time.process_time()
        try:  # a compact (Niggli) cell: fewer periodic images, a better-conditioned cell filter
            structure = structure.get_reduced_structure()
        except Exception:  # noqa: S110  (degenerate lattice: the distance check below reports it)
            pass
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = self.calculator if self.calculator is not None else get_calculator(self.model, self.device)
        v0 = atoms.get_volume()
        dmin0 = min_distance(atoms)
        if dmin0 < self.min_distance_A:
            return RelaxResult(False, None, n_atoms=len(atoms), reason=f"invalid input structure: atoms {dmin0:.2f} A apart "
                               f"(bound {self.min_distance_A} A)", failure_type="invalid_structure")
        energies: list[float] = []
        volumes: list[float] = []
        if self.keep_symmetry:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refine_symmetry(atoms, symprec=self.symprec)  # exact symmetry first, as ASE advises
                atoms.set_constraint(FixSymmetry(atoms, symprec=self.symprec))
        p = pressure_GPa * GPA_TO_EV_PER_A3
        filt = FrechetCellFilter(atoms, scalar_pressure=p)
        opt = {"FIRE": FIRE, "BFGS": BFGS, "LBFGS": LBFGS}[self.optimizer](filt, logfile=None)

        def _check():
            e = atoms.get_potential_energy()
            v = atoms.get_volume()
            energies.append(float(e))
            volumes.append(float(v))
            if not math.isfinite(e) or not np.isfinite(atoms.get_forces()).all():
                raise _diverged("non-finite energy or forces")
            ratio = v / v0
            if not 1.0 / self.max_volume_ratio <= ratio <= self.max_volume_ratio:
                raise _diverged(f"volume changed by a factor {ratio:.2f} (bound {self.max_volume_ratio})")
            dmin = min_distance(atoms)
            if dmin < self.min_distance_A:
                raise _diverged(f"atoms {dmin:.2f} A apart (bound {self.min_distance_A} A)")
            if (self.abandon_above_eV_per_atom is not None and len(energies) == self.abandon_after_steps
                    and (e + p * v) / len(atoms) > self.abandon_above_eV_per_atom):
                raise _Stop(f"abandoned after {len(energies)} steps: enthalpy {(e + p * v) / len(atoms):.3f} eV/atom, above "
                            f"the limit {self.abandon_above_eV_per_atom:.3f} eV/atom (best so far + margin)", "abandoned")
            if self.max_wall_s is not None and time.time() - t0 > self.max_wall_s:
                raise _Stop(f"relaxation exceeded {self.max_wall_s:g} s wall time after {len(energies)} force calls", "timeout")

        opt.attach(_check, interval=1)
        traj = {"energy_eV": energies, "volume_A3": volumes}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                converged = bool(opt.run(fmax=self.fmax, steps=self.max_steps))
        except Exception as exc:  # a typed stop, or a model / ASE error on this structure
            stop = exc if isinstance(exc, _Stop) else _Stop(f"engine error: {type(exc).__name__}: {exc}", "engine_error")
            return RelaxResult(False, None, n_atoms=len(atoms), n_steps=opt.nsteps, reason=str(stop), failure_type=stop.failure_type,
                               cpu_s=time.process_time() - c0, wall_s=time.time() - t0, trajectory=traj)
        atoms.set_constraint()
        e = float(atoms.get_potential_energy())
        v = float(atoms.get_volume())
        relaxed = AseAtomsAdaptor.get_structure(atoms.copy())  # no calculator: no float32 magmoms in the document
        res = RelaxResult(
            ok=converged, structure=relaxed, energy_eV=e, enthalpy_eV=e + p * v, volume_A3=v, n_atoms=len(atoms),
            n_steps=opt.nsteps, converged=converged, cpu_s=time.process_time() - c0, wall_s=time.time() - t0, trajectory=traj,
        )
        if not converged:
            res.reason = f"not converged to fmax={self.fmax} eV/A in {self.max_steps} steps"
            res.failure_type = "not_converged"
        return res

    def relax_iter(self, structures: list[Structure], pressure_GPa: float, max_steps: list[int] | None = None,
                   abandon_above=None):
        """Relax a batch, yielding (index, result) as each finishes; ``workers`` > 1 uses processes that
        each load the model once. ``max_steps`` optionally gives a step budget per structure;
        ``abandon_above(i)`` an enthalpy limit (eV/atom) for structure i, asked as it starts."""
        makers = [self if m is None or m == self.max_steps else replace(self, max_steps=m)
                  for m in (max_steps or [None] * len(structures))]

        def maker(i: int) -> MLIPRelaxMaker:
            limit = abandon_above(i) if abandon_above else None
            return makers[i] if limit is None else replace(makers[i], abandon_above_eV_per_atom=limit)

        if self.workers <= 1 or len(structures) <= 1 or self.calculator is not None:  # a given calculator: here
            set_torch_threads(self.torch_threads)
            if self.calculator is None:
                get_calculator(self.model, self.device)  # the model (and device) once, before any structure
            for i, s in enumerate(structures):
                yield i, maker(i).relax(s, pressure_GPa)
            return
        with ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=(self.model, self.device, self.torch_threads or 1)) as ex:
            futures = {ex.submit(_relax_in_worker, maker(i), s, pressure_GPa): i for i, s in enumerate(structures)}
            for f in as_completed(futures):
                yield futures[f], f.result()

    def relax_many(self, structures: list[Structure], pressure_GPa: float, progress=None,
                   max_steps: list[int] | None = None, on_result=None) -> list[RelaxResult]:
        """:meth:`relax_iter` collected in input order; ``on_result(i, result)`` as each finishes."""
        out: list[RelaxResult | None] = [None] * len(structures)
        for i, r in self.relax_iter(structures, pressure_GPa, max_steps):
            out[i] = r
            if on_result:
                on_result(i, r)
            if progress:
                progress(1)
        return out


def _init_worker(model: str, device: str, threads: int) -> None:
    set_torch_threads(threads)
    get_calculator(model, device)


def _relax_in_worker(maker: MLIPRelaxMaker, structure: Structure, pressure_GPa: float) -> RelaxResult:
    return maker.relax(structure, pressure_GPa)
