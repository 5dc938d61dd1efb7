"""Electron-phonon Tc by DFPT with Quantum ESPRESSO: one Maker, one candidate, one working directory.

Chain (QE PHonon electron-phonon recipe, ``electron_phonon='interpolated'``):

    [pw.x vc-relax at P] -> pw.x scf dense k (la2F) -> pw.x scf -> ph.x (q grid) -> q2r.x -> matdyn.x (la2F, dos)
    -> hts.tc.a2f: lambda, omega_log, omega_2 per smearing, lambda_H / lambda_M, Tc (McMillan, Allen-Dynes, Eliashberg)

Faults: an SCF that does not converge is retried with half the mixing_beta; a ph.x that crashes or
is killed is rerun with ``recover=.true.`` in the same directory; a missing executable or
pseudopotential fails at once. Every attempt is returned; nothing raises out of :meth:`ElphMaker.run`.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.io import read as ase_read
from ase.io.espresso import write_espresso_in, write_espresso_ph, write_fortran_namelist
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from hts.dft.cell import qe_cell
from hts.dft.pseudo import MissingPseudopotential, PseudoFamily
from hts.dft.qe import QEError, QERunner
from hts.label.frames import pw_frames
from hts.tc.a2f import analyse_a2f, read_elph_lambda
from hts.tc.protocols import ElphProtocol, mesh, meshes
from hts.units import KBAR_PER_GPA, RY_TO_EV

__all__ = ["ElphMaker", "ElphResult"]

_PREFIX = "hts"


@dataclass
class ElphResult:
    ok: bool
    tc: dict = field(default_factory=dict)  # the document's tc block
    arrays: dict = field(default_factory=dict)  # alpha2F per smearing, q-grid frequencies, lambda_qnu (-> data store)
    structure: Structure | None = None  # after the DFT vc-relax (None if not relaxed)
    failure: dict | None = None  # {"kind", "step", "message"}
    attempts: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # step -> {"wall_s", "cpu_s"}
    frames: list[dict] = field(default_factory=list)  # pw.x ionic steps with energy, forces, stress (-> labels)


@dataclass
class ElphMaker:
    """alpha2F, lambda, omega_log and Tc of one structure at one pressure (GPa)."""

    protocol: ElphProtocol
    pseudos: PseudoFamily
    runner: QERunner = field(default_factory=QERunner)
    mustar: tuple[float, ...] = (0.10, 0.13)
    max_retries: int = 2
    imaginary_tol_cm1: float = 20.0  # below -tol (outside the Gamma acoustic modes): dynamically unstable
    soft_mode_cm1: float = 20.0  # any frequency below this (outside Gamma acoustic): a 'soft mode' warning
    strong_coupling_lambda: float = 1.5
    ph_timeout_s: float | None = None  # wall-time limit of one ph.x attempt (None: runner.timeout_s)
    electron_maxstep: int = 100
    second_mesh: bool = False  # with a protocol that has second_q_min: rerun on that q mesh, store delta lambda / Tc

    @classmethod
    def from_settings(cls, t) -> "ElphMaker":
        """The Maker a campaign's ``tc`` settings (:class:`hts.config.TcSettings`) describe."""
        from hts.dft.pseudo import load_family
        from hts.tc.protocols import get_protocol

        return cls(protocol=get_protocol(t.protocol, **t.protocol_overrides),
                   pseudos=load_family(t.pseudo_family, t.pseudo_dir,
                                       {el: f.model_dump(exclude_none=True) for el, f in t.pseudopotentials.items()} or None),
                   runner=QERunner(t.qe_bin_dir, t.mpi_command, t.nprocs, t.step_timeout_s, t.npool),
                   mustar=tuple(t.mustar), max_retries=t.max_retries)

    # -- inputs -----------------------------------------------------------
    def _pw_input(self, path: Path, atoms, calculation: str, kpts, pressure_GPa: float, la2f=False, beta=0.7):
        p = self.protocol
        symbols = atoms.get_chemical_symbols()
        wfc, rho = self.pseudos.cutoffs(symbols)
        if p.ecutwfc_Ry:
            wfc, rho = p.ecutwfc_Ry, 4 * p.ecutwfc_Ry
        else:
            wfc, rho = wfc * p.ecut_scale, rho * p.ecut_scale
        data = {
            "control": {"calculation": calculation, "prefix": _PREFIX, "outdir": "./tmp", "pseudo_dir": str(self.pseudos.dir),
                        "tprnfor": True, "tstress": True, "forc_conv_thr": p.forc_conv_thr, "nstep": 60},
            "system": {"ecutwfc": round(wfc, 2), "ecutrho": round(rho, 2), "occupations": "smearing", "smearing": p.smearing,
                       "degauss": p.degauss_Ry},
            "electrons": {"conv_thr": p.conv_thr_Ry * len(atoms), "mixing_beta": beta, "electron_maxstep": self.electron_maxstep},
        }
        if la2f:
            data["system"]["la2F"] = True
        if calculation == "vc-relax":
            data["ions"] = {"ion_dynamics": "bfgs"}
            data["cell"] = {"cell_dynamics": "bfgs", "press": pressure_GPa * KBAR_PER_GPA, "cell_dofree": "all",
                            "press_conv_thr": p.press_conv_thr_kbar}
        with open(path, "w") as f:
            write_espresso_in(f, atoms, input_data=data, pseudopotentials=self.pseudos.files(symbols), kpts=kpts)
        return {"ecutwfc_Ry": round(wfc, 2), "ecutrho_Ry": round(rho, 2)}

    def _ph_input(self, path: Path, q, recover: bool):
        p = self.protocol
        data = {"inputph": {"prefix": _PREFIX, "outdir": "./tmp", "tr2_ph": p.tr2_ph, "fildyn": "dyn", "fildvscf": "dvscf",
                            "electron_phonon": "interpolated", "el_ph_sigma": p.el_ph_sigma_Ry, "el_ph_nsigma": p.el_ph_nsigma,
                            "trans": True, "ldisp": True, "nq1": q[0], "nq2": q[1], "nq3": q[2], "recover": recover}}
        with open(path, "w") as f:
            write_espresso_ph(f, input_data=data)

    def _provenance(self, atoms) -> dict:
        """Pseudopotential files and md5s; a missing one is a typed QE failure at step 'setup'."""
        try:
            return self.pseudos.provenance(atoms.get_chemical_symbols())
        except MissingPseudopotential as exc:
            raise QEError("missing_pseudopotential", "setup", str(exc)) from None

    # -- steps with their retry rules -------------------------------------
    def _pw(self, wd: Path, step: str, atoms, calc: str, kpts, pressure: float, res: ElphResult, la2f=False, tag=""):
        beta = 0.7
        for attempt in range(self.max_retries + 1):
            inp = wd / f"{step}.in"
            res.tc.update(self._pw_input(inp, atoms, calc, kpts, pressure, la2f, beta))
            try:
                run = self.runner.run("pw.x", inp, wd, step=step + tag)
                res.timings[step + tag] = {"wall_s": run.wall_s, "cpu_s": run.cpu_s}
                res.tc["qe_version"] = run.version
                res.attempts.append({"step": step + tag, "ok": True, "mixing_beta": beta})
                return run
            except QEError as exc:
                res.attempts.append({"step": step + tag, "ok": False, **exc.as_dict(), "mixing_beta": beta})
                if exc.kind != "scf_not_converged" or attempt == self.max_retries:
                    raise
                beta = round(beta / 2, 4)  # retry: gentler mixing

    def _ph(self, wd: Path, q, res: ElphResult, tag=""):
        recover = False
        for attempt in range(self.max_retries + 1):
            inp = wd / "ph.in"
            self._ph_input(inp, q, recover)
            try:
                run = self.runner.run("ph.x", inp, wd, step="ph" + tag, timeout_s=self.ph_timeout_s)
                res.timings["ph" + tag] = {"wall_s": run.wall_s, "cpu_s": run.cpu_s}
                res.attempts.append({"step": "ph" + tag, "ok": True, "recover": recover})
                return run
            except QEError as exc:
                res.attempts.append({"step": "ph" + tag, "ok": False, **exc.as_dict(), "recover": recover})
                if exc.kind not in ("crashed", "walltime") or attempt == self.max_retries:
                    raise
                if recover:  # the restart itself failed: start ph.x afresh
                    shutil.rmtree(wd / "tmp" / "_ph0", ignore_errors=True)
                    recover = False
                else:  # restart from ./tmp/_ph0, minus files the kill left half-written
                    _drop_truncated_xml(wd / "tmp" / "_ph0")
                    recover = True

    # -- the chain ----------------------------------------------------------
    def run(self, structure: Structure, pressure_GPa: float, workdir) -> ElphResult:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        res = ElphResult(ok=False)
        p = self.protocol
        res.tc.update({"engine": "qe", "protocol": p.name, "converged_protocol": p.converged, "pressure_GPa": pressure_GPa})
        if not p.converged:
            res.tc["label"] = "unconverged (smoke protocol)"
        try:
            structure = qe_cell(structure)  # standard orientation: QE finds every symmetry operation
            res.tc["cell"] = {"setting": "spglib standard primitive", "n_atoms": len(structure),
                              "lattice_abc_A": [round(x, 5) for x in structure.lattice.abc]}
            atoms = AseAtomsAdaptor.get_atoms(structure)
            res.tc["pseudopotentials"] = self._provenance(atoms)
            m = meshes(p, structure)
            if p.relax:
                res.structure = self._vc_relax(wd, atoms, m["k"], pressure_GPa, res)
                atoms = AseAtomsAdaptor.get_atoms(res.structure)
                m = meshes(p, res.structure)
            res.tc.update({"k_mesh": list(m["k"]), "k_mesh_fit": list(m["k_fit"]), "q_mesh": list(m["q"]),
                           "degauss_Ry": p.degauss_Ry, "smearing": p.smearing})
            block, arrays, elph = self._chain(wd, atoms, m, pressure_GPa, res)
            res.tc.update(block)
            res.arrays = {**arrays, "q_points": elph["q"], "frequencies_q_cm1": elph["frequencies_cm1"],
                          "lambda_qnu": elph["lambda_qnu"]}
            res.tc["n_ef_states_per_spin_Ry"] = elph["n_ef_states_per_spin_Ry"]
            self._stability(elph, res)
            if self.second_mesh and p.second_q_min:
                self._second_mesh(wd, atoms, res.structure or structure, pressure_GPa, res)
            res.tc["wall_s"] = {k: v["wall_s"] for k, v in res.timings.items()}
            res.tc["cpu_s"] = {k: v["cpu_s"] for k, v in res.timings.items()}
            res.ok = True
        except QEError as exc:
            res.failure = exc.as_dict()
        except (OSError, ValueError, IndexError) as exc:  # unreadable or absent QE output
            res.failure = {"kind": "parse_error", "step": "analysis", "message": f"{type(exc).__name__}: {exc}"}
        return res

    def _vc_relax(self, wd: Path, atoms, kpts, pressure_GPa: float, res: ElphResult) -> Structure:
        """pw.x vc-relax at ``pressure_GPa``; DFT enthalpy (eV/atom) into res.tc; the relaxed structure.

        A vc-relax that crashes after some ionic steps (QE 6.7 can segfault after a large cell change), or stops at
        ``nstep``, is restarted from its last geometry, with fresh G vectors, up to ``max_retries`` times."""
        for attempt in range(self.max_retries + 1):
            try:
                self._pw(wd, "relax", atoms, "vc-relax", kpts, pressure_GPa, res)
                break
            except QEError as exc:
                try:
                    last = ase_read(wd / "relax.out", format="espresso-out", index=-1)
                except Exception:  # noqa: BLE001  (no complete ionic step to restart from)
                    raise exc from None
                if exc.kind not in ("crashed", "relax_not_converged") or attempt == self.max_retries \
                        or len(last) != len(atoms):
                    raise
                last.calc = None
                atoms = last
                res.attempts.append({"step": "relax", "ok": False, "kind": "restart", "message": "vc-relax restarted from its last geometry"})
        text = (wd / "relax.out").read_text()
        res.frames += pw_frames(wd / "relax.out")
        final = ase_read(wd / "relax.out", format="espresso-out", index=-1)
        final.calc = None
        enth = re.findall(r"Final enthalpy\s*=\s*([-\d.]+)\s*Ry", text)
        if enth:
            res.tc["dft_enthalpy_eV_per_atom"] = float(enth[-1]) * RY_TO_EV / len(final)
        if "The maximum number of steps has been reached" in text or not enth:
            res.tc.setdefault("warnings", []).append("DFT vc-relax did not converge within nstep; phonons at the last geometry")
            if not enth:  # enthalpy of the last step
                last = re.findall(r"enthalpy new\s*=\s*([-\d.]+)\s*Ry", text)
                if last:
                    res.tc["dft_enthalpy_eV_per_atom"] = float(last[-1]) * RY_TO_EV / len(final)
        return AseAtomsAdaptor.get_structure(final)

    def vc_relax(self, structure: Structure, pressure_GPa: float, workdir) -> ElphResult:
        """Only the DFT relaxation at pressure (the DFT re-screen of the hull): ``tc`` holds
        dft_enthalpy_eV_per_atom, ``structure`` the relaxed cell; faults as in :meth:`run`."""
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        res = ElphResult(ok=False)
        try:
            structure = qe_cell(structure)
            atoms = AseAtomsAdaptor.get_atoms(structure)
            res.tc["pseudopotentials"] = self._provenance(atoms)
            res.structure = self._vc_relax(wd, atoms, meshes(self.protocol, structure)["k"], pressure_GPa, res)
            res.ok = "dft_enthalpy_eV_per_atom" in res.tc
            if not res.ok:
                res.failure = {"kind": "parse_error", "step": "relax", "message": "no enthalpy in relax.out"}
        except QEError as exc:
            res.failure = exc.as_dict()
        except (OSError, ValueError, IndexError) as exc:
            res.failure = {"kind": "parse_error", "step": "relax", "message": f"{type(exc).__name__}: {exc}"}
        res.tc["wall_s"] = {k: v["wall_s"] for k, v in res.timings.items()}
        self.clean(wd)
        return res

    def _chain(self, wd: Path, atoms, m: dict, pressure_GPa: float, res: ElphResult, tag: str = ""):
        """scf (dense, la2F) -> scf -> ph.x -> q2r.x -> matdyn.x in ``wd``; the alpha2F analysis."""
        p = self.protocol
        symbols = atoms.get_chemical_symbols()
        self._pw(wd, "scf_fit", atoms, "scf", m["k_fit"], pressure_GPa, res, la2f=True, tag=tag)
        self._pw(wd, "scf", atoms, "scf", m["k"], pressure_GPa, res, tag=tag)
        if not tag:
            res.frames += pw_frames(wd / "scf.out", 1)
        self._ph(wd, m["q"], res, tag=tag)
        for step, data in (("q2r", {"fildyn": "dyn", "zasr": "simple", "flfrc": "fc", "la2F": True}),
                           ("matdyn", {"asr": "simple", "flfrc": "fc", "flfrq": "freq", "la2F": True, "dos": True,
                                       "fldos": "phonon.dos", "nk1": p.matdyn_mesh, "nk2": p.matdyn_mesh,
                                       "nk3": p.matdyn_mesh, "ndos": p.ndos})):
            with open(wd / f"{step}.in", "w") as f:
                write_fortran_namelist(f, input_data={"input": data}, binary=step)
            run = self.runner.run(f"{step}.x", wd / f"{step}.in", wd, step=step + tag)
            res.timings[step + tag] = {"wall_s": run.wall_s, "cpu_s": run.cpu_s}
        block, arrays = analyse_a2f(wd, symbols, self.mustar, p.selected_sigma_Ry, p.el_ph_sigma_Ry, eliashberg=not tag)
        return block, arrays, read_elph_lambda(wd)

    def _second_mesh(self, wd: Path, atoms, structure: Structure, pressure_GPa: float, res: ElphResult) -> None:
        """The same chain on the coarser q mesh ``second_q_min``: delta lambda and delta Tc (converged protocol)."""
        p = self.protocol
        b = structure.lattice.reciprocal_lattice.abc
        q2 = mesh(b, p.q_spacing, p.second_q_min) if p.q is None else (p.second_q_min,) * 3
        q2 = tuple(min(a, c) for a, c in zip(q2, res.tc["q_mesh"]))
        m2 = meshes(p.with_overrides(q=q2, k=tuple(res.tc["k_mesh"])), structure)  # the main k mesh, made commensurate
        sub = wd / "second_mesh"
        sub.mkdir(exist_ok=True)
        block, _, _ = self._chain(sub, atoms, m2, pressure_GPa, res, tag="_second_mesh")
        mu = f"{self.mustar[0]:g}"
        res.tc["second_mesh"] = {"q_mesh": list(m2["q"]), "k_mesh": list(m2["k"]), "lambda": block["lambda"],
                                 "omega_log_K": block["omega_log_K"],
                                 "tc_allen_dynes_K": block["by_mustar"][mu]["allen_dynes"]}
        res.tc["delta_lambda"] = res.tc["lambda"] - block["lambda"]
        res.tc["delta_tc_allen_dynes_K"] = res.tc["by_mustar"][mu]["allen_dynes"] - block["by_mustar"][mu]["allen_dynes"]

    def _stability(self, elph: dict, res: ElphResult) -> None:
        """dyn_stable, min frequency and typed warnings from the frequencies on the q grid."""
        lows = []
        for q, w in zip(elph["q"], elph["frequencies_cm1"]):
            w = np.sort(np.asarray(w))
            if np.allclose(q, 0.0, atol=1e-6):
                w = w[3:]  # Gamma acoustic modes (zero by the sum rule; noise is not a soft mode)
            if w.size:
                lows.append(float(w.min()))
        wmin = min(lows) if lows else float("nan")
        res.tc["min_frequency_cm1"] = wmin
        res.tc["dyn_stable"] = bool(wmin > -self.imaginary_tol_cm1)
        warns = res.tc.setdefault("warnings", [])
        if wmin < self.soft_mode_cm1:
            warns.append(f"soft_mode: lowest frequency on the q grid {wmin:.1f} cm^-1 (outside Gamma acoustic)")
        if res.tc.get("lambda", 0) > self.strong_coupling_lambda:
            warns.append(f"strong_coupling: lambda = {res.tc['lambda']:.2f} > {self.strong_coupling_lambda}: "
                         "Migdal-Eliashberg validity in doubt")
        if not res.tc["converged_protocol"]:
            warns.append("unconverged: smoke protocol, not for physics (no stability verdict, not a training label)")
            res.tc["stability_verdict"] = False

    @staticmethod
    def clean(workdir) -> None:
        """Remove wavefunctions and dvscf (large) once the results are stored."""
        shutil.rmtree(Path(workdir) / "tmp", ignore_errors=True)


def _drop_truncated_xml(phdir: Path) -> list[str]:
    """Delete ph.x restart files that a kill left unparsable (they are recomputed on recover)."""
    import xml.etree.ElementTree as ET

    dropped = []
    for f in phdir.rglob("*.xml"):
        try:
            ET.parse(f)
        except ET.ParseError:
            f.unlink()
            dropped.append(f.name)
    return dropped
