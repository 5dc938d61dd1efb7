"""A screening campaign, stage by stage, on a CandidateStore.

generate -> relax at pressure -> deduplicate -> enthalpy hull -> phonon check -> tc_pending
-> (learning.enabled) surrogate selection of the next DFPT targets
-> (tc.enabled) DFT re-screen of the hull (pw.x) -> DFPT alpha2F, lambda, omega_log, Tc -> tc_done | dyn_unstable | failed

Every stage reads and writes documents keyed by deterministic candidate ids, so a run
can be repeated or resumed: finished documents are never recomputed, and a second run
of the same configuration adds nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pymatgen.core import Composition, Structure

from hts.config import CampaignConfig
from hts.generate.candidate import GeneratedStructure, candidate_id
from hts.generate.random_cells import random_candidates
from hts.generate.substitution import substitution_candidates
from hts.relax.mlip import get_calculator
from hts.relax.relaxer import MLIPRelaxMaker
from hts.stability.dedup import Deduplicator
from hts.stability.dft_hull import dft_rescreen
from hts.stability.hull import enthalpy_hull
from hts.stability.phonons import phonon_check
from hts.stability.references import MPUnavailable, element_references, mp_references
from hts.store.store import CandidateStore

__all__ = ["Campaign", "generate", "relax_maker"]

log = logging.getLogger("hts")


def _chemsys(s: Structure | Composition) -> str:
    comp = s.composition if isinstance(s, Structure) else s
    return "-".join(sorted(str(e) for e in comp.elements))


def relax_maker(cfg: CampaignConfig) -> MLIPRelaxMaker:
    r = cfg.relax
    return MLIPRelaxMaker(
        model=r.model, fmax=r.fmax_eV_A, max_steps=r.max_steps, optimizer=r.optimizer,
        keep_symmetry=r.keep_symmetry, symprec=r.symprec, max_volume_ratio=r.max_volume_ratio,
        min_distance_A=r.min_distance_A, workers=r.workers, device=r.device, torch_threads=r.torch_threads, max_wall_s=r.max_wall_s,
    )


def _default_stoichiometries(system: str, ternaries: list[GeneratedStructure]) -> list[str]:
    forms = sorted({g.structure.composition.reduced_formula for g in ternaries if g.structure.num_sites <= 16})
    if forms:
        return forms
    metals = [e for e in system.split("-") if e != "H"]
    return ["".join(metals) + "H6"]


def generate(cfg: CampaignConfig) -> list[tuple[float, str, GeneratedStructure]]:
    """Every structure of the campaign as (pressure, system, generated structure)."""
    out = []
    g = cfg.generators
    for system in cfg.systems:
        ternaries, binaries = ([], [])
        if g.substitution.enabled or cfg.references.sub_binaries:
            ternaries, binaries = substitution_candidates(
                system, g.substitution.prototypes, g.substitution.rules, g.substitution.max_atoms,
                g.substitution.ionic_radius_tolerance, g.substitution.probability_threshold,
            )
        if not g.substitution.enabled:
            ternaries = []
        if g.substitution.max_candidates:
            ternaries = ternaries[: g.substitution.max_candidates]
        for p in cfg.pressures_GPa:
            items = list(ternaries)
            if len(system.split("-")) == 2:  # a binary system: its prototype hydrides are the candidates
                items += [GeneratedStructure(b.structure, b.origin, role="candidate") for b in binaries] if g.substitution.enabled else []
            elif cfg.references.sub_binaries:
                items += binaries
            if cfg.references.elements:
                items += element_references(system.split("-"), p, cfg.references.element_phases)
            if g.random.enabled and g.random.n_structures:
                stoich = g.random.stoichiometries or _default_stoichiometries(system, ternaries)
                items += random_candidates(
                    stoich, g.random.n_structures, p, g.random.seed, g.random.formula_units, g.random.space_groups,
                    g.random.max_atoms, (g.random.min_sep_HH, g.random.min_sep_HX, g.random.min_sep_XX), g.random.volume_factor,
                )
            out.extend((p, system, it) for it in items)
    return out


@dataclass
class RunSummary:
    generated: int = 0
    new: int = 0
    skipped_existing: int = 0
    relaxed: int = 0
    failed: int = 0
    duplicates: int = 0
    phonons: int = 0
    statuses: dict = field(default_factory=dict)
    wall_s: float = 0.0


class Campaign:
    """Runs one configuration against a store. ``progress`` is a callable(stage, n_total) -> tick()."""

    def __init__(self, cfg: CampaignConfig, store: CandidateStore, progress=None):
        self.cfg = cfg
        self.store = store
        self.progress = progress
        self._summary = RunSummary()  # counters of this run (stages called one by one also count here)
        self.maker = relax_maker(cfg)
        self.engine = {"name": "mlip", "model": cfg.relax.model, "version": self.maker.engine_version}

    # -- stages ----------------------------------------------------------
    def stage_generate(self) -> list[dict]:
        """New documents in status 'generated' (existing ids are left as they are)."""
        docs = []
        seen = set()
        for p, system, g in generate(self.cfg):
            cid = candidate_id(self.cfg.name, p, {**g.origin, "formula": g.formula, "system": system})
            if cid in seen:
                continue
            seen.add(cid)
            docs.append({
                "id": cid, "campaign": self.cfg.name, "role": g.role, "chemsys": _chemsys(g.structure), "system": system,
                "formula": g.formula, "nelements": len(g.structure.composition.elements), "pressure_GPa": p,
                "origin": g.origin, "status": "generated", "structure_initial": g.structure.as_dict(),
            })
        existing = {d["id"] for d in self.store.find({"id": {"$in": [d["id"] for d in docs]}}, properties=["id"])}
        new = [d for d in docs if d["id"] not in existing]
        self.store.upsert(new)
        self._summary.generated = len(docs)
        self._summary.new = len(new)
        self._summary.skipped_existing = len(existing)
        return new

    def stage_relax(self, ids: list[str] | None = None) -> None:
        """Relax 'generated' documents of this campaign (all, or ``ids``), pressure by pressure."""
        crit = {"campaign": self.cfg.name, "status": "generated"}
        if ids is not None:
            crit["id"] = {"$in": list(ids)}
        todo = self.store.find(crit)
        tick = self.progress("relax", len(todo)) if self.progress else None
        # hull references set the hull: they get the larger step budget, in the same worker pool
        ref_steps = max(self.maker.max_steps, self.cfg.references.max_steps)
        for p in sorted({d["pressure_GPa"] for d in todo}):
            batch = [d for d in todo if d["pressure_GPa"] == p]
            steps = [ref_steps if d["role"] == "reference" else self.maker.max_steps for d in batch]

            def commit(i: int, r, batch=batch) -> None:  # each relaxation is written as it finishes
                d = batch[i]
                d["engine"] = self.engine
                d["cpu_seconds"] = {**d.get("cpu_seconds", {}), "relax": round(r.cpu_s, 3)}
                d["relax"] = {k: v for k, v in r.summary().items() if k in ("n_steps", "converged", "wall_s", "failure_type")}
                d["attempts"] = d.get("attempts", []) + [{"stage": "relax", "ok": r.ok, "reason": r.reason}]
                if r.ok:
                    n = r.n_atoms
                    d.update(status="relaxed", structure=r.structure.as_dict(), energy_eV_per_atom=r.energy_eV / n,
                             enthalpy_eV_per_atom=r.enthalpy_eV / n, volume_A3_per_atom=r.volume_A3 / n)
                    self._summary.relaxed += 1
                else:
                    d.update(status="failed", stage="relax", reason=r.reason)
                    self._summary.failed += 1
                self.store.put_data(d["id"], "relax_trajectory", r.trajectory)
                self.store.upsert([d])

            self.maker.relax_many([Structure.from_dict(d["structure_initial"]) for d in batch], p, progress=tick,
                                  max_steps=steps, on_result=commit)

    def stage_dedup(self) -> None:
        """Mark relaxed structures that match an earlier one (same pressure, engine) as duplicates."""
        crit = {"status": {"$in": ["relaxed", "off_hull", "dyn_unstable", "tc_pending", "tc_done"]},
                "engine.model": self.cfg.relax.model}
        for p in self.cfg.pressures_GPa:
            known = self.store.find({**crit, "pressure_GPa": p, "duplicate_of": None}, sort={"id": 1})
            # originals: anything already past dedup, from any campaign; fresh ones checked in id order
            fresh = [d for d in known if d["status"] == "relaxed" and d["campaign"] == self.cfg.name and not d.get("dedup_checked")]
            dd = Deduplicator()
            for d in known:
                if d not in fresh:
                    dd.add(d["id"], Structure.from_dict(d["structure"]))
            updates = []
            for d in fresh:
                s = Structure.from_dict(d["structure"])
                match = dd.find(s)
                full = d
                full["dedup_checked"] = True
                if match:
                    full.update(status="duplicate", duplicate_of=match, stage="dedup",
                                reason=f"same structure as {match} after relaxation (StructureMatcher)")
                    self._summary.duplicates += 1
                else:
                    dd.add(d["id"], s)
                updates.append(full)
            self.store.upsert(updates)

    def stage_hull(self) -> None:
        """e_above_hull for every relaxed structure; candidates above the threshold -> off_hull."""
        thr = self.cfg.stability.hull_threshold_meV
        ok_status = ["relaxed", "off_hull", "dyn_unstable", "tc_pending", "tc_done"]
        for system in self.cfg.systems:
            els = set(system.split("-"))
            for p in self.cfg.pressures_GPa:
                t0 = time.process_time()
                pool = [d for d in self.store.find({"status": {"$in": ok_status}, "pressure_GPa": p, "engine.model": self.cfg.relax.model})
                        if set(d["chemsys"].split("-")) <= els]
                if self.cfg.references.mp_api:
                    try:
                        mp_references(system)
                    except MPUnavailable as exc:
                        log.warning("%s", exc)
                entries = {}
                for d in pool:
                    comp = Structure.from_dict(d["structure"]).composition
                    entries[d["id"]] = (comp, d["enthalpy_eV_per_atom"] * comp.num_atoms)
                missing = els - {str(e) for d in pool if d["nelements"] == 1 for e in Composition(d["formula"]).elements}
                mine = [d for d in pool if d["campaign"] == self.cfg.name]
                if missing:
                    reason = f"no relaxed reference for element(s) {sorted(missing)} at {p} GPa"
                    for d in mine:
                        if d["role"] == "candidate" and d["status"] == "relaxed":
                            d.update(status="failed", stage="hull", reason=reason)
                    self.store.upsert(mine)
                    continue
                _, res = enthalpy_hull(entries)
                dt = (time.process_time() - t0) / max(len(mine), 1)
                for d in mine:
                    h = res[d["id"]]
                    d["e_above_hull_meV"] = round(h.e_above_hull_meV, 3)
                    d["decomposition"] = h.decomposition
                    d["cpu_seconds"] = {**d.get("cpu_seconds", {}), "hull": round(dt, 4)}
                    if d["role"] != "candidate":
                        continue
                    if h.e_above_hull_meV > thr:
                        if d["status"] in ("relaxed", "tc_pending"):
                            parts = " + ".join(f"{f:.2f} {k}" for k, f in h.decomposition.items())
                            d.update(status="off_hull", stage="hull",
                                     reason=f"{h.e_above_hull_meV:.1f} meV/atom above the {p:g} GPa hull (threshold {thr:g}); decomposes to {parts}")
                    elif d["status"] == "off_hull" and d.get("stage") == "hull":
                        d.update(status="relaxed", stage=None, reason=None)  # a later MLIP hull can readmit it (not a DFT verdict)
                self.store.upsert(mine)

    def stage_phonons(self) -> None:
        """Phonon check of hull survivors; unstable -> dyn_unstable when the filter is on."""
        ph = self.cfg.phonons
        todo = self.store.find({"campaign": self.cfg.name, "role": "candidate", "status": "relaxed",
                                "e_above_hull_meV": {"$lte": self.cfg.stability.hull_threshold_meV}},
                               sort={"e_above_hull_meV": 1})
        if not ph.enabled:
            for d in todo:
                d.update(status="tc_pending")
            self.store.upsert(todo)
            return
        if ph.max_candidates is not None:
            skipped = todo[ph.max_candidates:]
            todo = todo[: ph.max_candidates]
            for d in skipped:  # on the hull but beyond the phonon budget: go on to Tc, flagged
                d["warnings"] = sorted(set(d.get("warnings", [])) | {
                    f"phonon check skipped: beyond phonons.max_candidates = {ph.max_candidates} (lowest e_above_hull first)"})
                d.update(status="tc_pending")
            self.store.upsert(skipped)
        tick = self.progress("phonons", len(todo)) if self.progress else None
        for d in todo:
            r = phonon_check(Structure.from_dict(d["structure"]), self.cfg.relax.model, ph.supercell_min_length_A,
                             ph.max_supercell_atoms, ph.displacement_A, ph.mesh, ph.imaginary_tol_THz, ph.gamma_acoustic_tol_THz,
                             calculator=get_calculator(self.cfg.relax.model, self.cfg.relax.device))
            d["phonon"] = r.summary()
            d["cpu_seconds"] = {**d.get("cpu_seconds", {}), "phonons": round(r.cpu_s, 3)}
            self.store.put_data(d["id"], "phonon_mlip", r.arrays())
            if r.classification == "failed":
                d.update(status="failed", stage="phonons", reason=r.reason)
            elif r.classification == "unstable" and ph.filter:
                d.update(status="dyn_unstable", stage="phonons", reason=f"MLIP phonons: {r.reason}")
            else:
                if r.classification == "unstable":
                    d["warnings"] = sorted(set(d.get("warnings", [])) | {f"MLIP phonons unstable ({r.reason}); filter off"})
                d.update(status="tc_pending")
            self._summary.phonons += 1
            self.store.upsert([d])
            if tick:
                tick(1)

    def stage_select(self) -> None:
        """With ``learning.enabled``: one surrogate round marks the next DFPT targets (hts.learn.loop)."""
        if not self.cfg.learning.enabled:
            return
        from hts.learn.loop import run_round

        try:
            res = run_round(self.store, self.cfg.name, self.cfg.learning)
            log.info("learning round %d selected %d of %d", res.round, len(res.selected), res.ranked)
        except ValueError as exc:  # too few labels yet: the DFPT stage takes candidates in hull order
            log.warning("learning round skipped: %s", exc)

    def elph_maker(self):
        """The DFPT Maker configured by ``tc`` (protocol, pseudopotentials, QE launcher)."""
        from hts.tc.dfpt import ElphMaker

        return ElphMaker.from_settings(self.cfg.tc)

    def tc_queue(self, ids: list[str] | None = None) -> list[dict]:
        """tc_pending candidates in DFPT order: learning selections, then lowest e_above_hull, then small cells."""
        t = self.cfg.tc
        crit = {"campaign": self.cfg.name, "role": "candidate", "status": "tc_pending"}
        if ids is not None:
            crit["id"] = {"$in": list(ids)}
        todo = self.store.find(crit)
        if t.max_atoms:
            todo = [d for d in todo if len(d["structure"]["sites"]) <= t.max_atoms]
        todo.sort(key=lambda d: (d.get("selection") is None, d.get("e_above_hull_meV") or 0.0, len(d["structure"]["sites"])))
        return todo if t.max_candidates is None else todo[: t.max_candidates]

    def stage_dft_hull(self, ids: list[str] | None = None) -> None:
        """DFT re-screen before DFPT: the candidates next in line and the hull phases they depend on
        (every element, and the phases of their MLIP decomposition) are re-relaxed with pw.x at the same
        pressure; e_above_hull is recomputed from DFT enthalpies and stored beside the MLIP value
        (``dft_hull``); candidates above the threshold become off_hull (stage 'dft_hull')."""
        t = self.cfg.tc
        rescreen = t.dft_rescreen if t.dft_rescreen is not None else t.protocol != "smoke"
        if not (t.enabled and rescreen):
            return
        cands = self.tc_queue(ids)
        if not cands:
            return
        dft_rescreen(self.store, self.cfg, self.elph_maker(), cands)

    def stage_tc(self, ids: list[str] | None = None, second_mesh_ids: list[str] | None = None) -> None:
        """DFPT Tc of 'tc_pending' candidates: learning selections first, then lowest e_above_hull.

        tc_done (tc block + alpha2F arrays in the data store), dyn_unstable (stage 'dfpt', DFPT
        imaginary modes) or failed (stage 'dfpt', the QE message); one candidate never stops the rest.
        ``ids`` restricts the stage to those candidates (one queue job per candidate in the flow);
        ``second_mesh_ids`` are the candidates that also run the second q mesh (default: the first
        ``tc.second_mesh_top`` of this run's queue).
        """
        t = self.cfg.tc
        if not t.enabled:
            return
        todo = self.tc_queue(ids)
        if second_mesh_ids is None:
            second_mesh_ids = [d["id"] for d in todo[: t.second_mesh_top]]
        maker = self.elph_maker()
        tick = self.progress("dfpt", len(todo)) if self.progress else None
        for d in todo:
            maker.second_mesh = d["id"] in second_mesh_ids  # top candidates: delta lambda / Tc on a second mesh
            wd = Path(t.workdir) / d["id"]
            if d.get("structure_dft"):  # relaxed by the DFT re-screen: phonons at that geometry
                mk = replace(maker, protocol=maker.protocol.with_overrides(relax=False))
                r = mk.run(Structure.from_dict(d["structure_dft"]), d["pressure_GPa"], wd)
                r.tc["dft_enthalpy_eV_per_atom"] = d["dft"]["enthalpy_eV_per_atom"]
            else:
                r = maker.run(Structure.from_dict(d["structure"]), d["pressure_GPa"], wd)
            d["tc"] = r.tc
            d["attempts"] = d.get("attempts", []) + [{"stage": "dfpt", **a} for a in r.attempts]
            d["cpu_seconds"] = {**d.get("cpu_seconds", {}), "dfpt": round(sum(v["cpu_s"] for v in r.timings.values()), 2)}
            if r.structure is not None:
                d["structure_dft"] = r.structure.as_dict()
            label = "" if maker.protocol.converged else " [unconverged: smoke protocol]"
            if not r.ok:
                f = r.failure
                d.update(status="failed", stage="dfpt", reason=f"{f['step']}: {f['kind']}: {f['message']}")
            elif not r.tc["dyn_stable"] and maker.protocol.converged:
                d.update(status="dyn_unstable", stage="dfpt",
                         reason=f"DFPT imaginary mode {r.tc['min_frequency_cm1']:.0f} cm^-1 on the q grid")
            else:  # an unconverged (smoke) run gives no stability verdict: tc_done, labelled, never a training label
                d.update(status="tc_done", stage=None, reason=None)
                d["warnings"] = sorted(set(d.get("warnings", [])) | set(r.tc.get("warnings", [])))
            if r.arrays:
                self.store.put_data(d["id"], "a2f", r.arrays)
            if r.ok and not t.keep_wavefunctions:
                maker.clean(wd)
            self.store.upsert([d])
            log.info("DFPT %s %s: %s%s", d["id"], d["formula"], d["status"], label)
            if tick:
                tick(1)

    # -- driver ----------------------------------------------------------
    def run(self) -> RunSummary:
        t0 = time.time()
        self._summary = RunSummary()
        self.stage_generate()
        self.stage_relax()
        self.stage_dedup()
        self.stage_hull()
        self.stage_phonons()
        self.stage_select()
        self.stage_dft_hull()
        self.stage_tc()
        self._summary.statuses = self.store.status_counts(self.cfg.name)
        self._summary.wall_s = time.time() - t0
        return self._summary
