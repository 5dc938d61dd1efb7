"""``hts tc STRUCTURE``: the DFPT electron-phonon stage on one structure file (CIF or POSCAR).

Prints lambda, omega_log (K) and the Tc range over mu*; ``--json`` prints one object: the document's
``tc`` block (``lambda``, ``omega_log_K``, ``tc_allen_dynes_K`` = [low, high] over mu*, ...) plus
``ok``, ``structure_file``, ``workdir`` and, on failure, the typed ``failure``. Exit code 0 when the
chain finished, 1 when it ended in a typed QE failure, 2 for bad input.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

__all__ = ["add_tc_run_command", "TC_SUBCOMMANDS"]

TC_SUBCOMMANDS = ("formula", "run")


def _overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs (VALUE read as YAML: ``k=[8,8,8]``, ``ecutwfc_Ry=40``) for the protocol."""
    import yaml

    from hts.tc.protocols import ElphProtocol

    known = {f.name for f in fields(ElphProtocol)} - {"name"}
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(known)}")
        v = yaml.safe_load(val)
        if isinstance(v, str) and key != "smearing":  # YAML 1.1 reads 1e-8 (no dot) as a string
            try:
                v = float(v)
            except ValueError:
                raise ValueError(f"--set {item!r}: {key} needs a number") from None
        out[key] = v
    return out


def _cmd_tc_run(args) -> int:
    def bad(msg: str) -> int:
        print(f"hts tc: {msg}", file=sys.stderr)
        return 2

    import math

    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.structure_input import StructureInputError, check_structure, read_structure

    path = Path(args.structure)
    if not (math.isfinite(args.pressure) and 0 <= args.pressure <= 1000):
        return bad(f"--pressure must be a finite number in [0, 1000] GPa (got {args.pressure:g})")
    try:
        structure = read_structure(path)
        check_structure(structure, MLIPRelaxMaker.min_distance_A)  # the relaxer's input bound
    except StructureInputError as exc:
        return bad(str(exc))
    symbols = [el.symbol for el in structure.composition.elements]

    from pydantic import ValidationError

    from hts.config import TcSettings, format_errors
    from hts.dft.pseudo import MissingPseudopotential, family_for
    from hts.tc.dfpt import ElphMaker

    try:
        overrides = _overrides(args.set or [])
        extra = {}
        for item in args.pseudo or []:
            el, sep, fname = item.partition("=")
            if not sep or not fname:
                raise ValueError(f"--pseudo {item!r}: expected EL=FILE")
            if not overrides.get("ecutwfc_Ry"):
                raise ValueError("--pseudo needs the cutoff too: --set ecutwfc_Ry=CUTOFF")
            extra[el] = {"file": fname, "ecutwfc": overrides["ecutwfc_Ry"], "ecutrho": 4 * overrides["ecutwfc_Ry"]}
        rest = set(symbols) - set(extra)
        family = args.pseudo_family or (family_for(rest) if rest else "user")
        given = {"mustar": args.mustar} if args.mustar else {}  # else TcSettings' default (0.10, 0.13)
        settings = TcSettings(protocol=args.protocol, protocol_overrides=overrides, pseudo_family=family,
                              pseudo_dir=args.pseudo_dir, pseudopotentials=extra, qe_bin_dir=args.qe_bin_dir,
                              mpi_command=args.mpi_command, nprocs=args.nprocs, npool=args.npool,
                              step_timeout_s=args.step_timeout_s, max_retries=args.max_retries, **given)
        maker = ElphMaker.from_settings(settings)
    except ValidationError as exc:
        return bad("invalid settings\n" + format_errors(exc))
    except MissingPseudopotential as exc:
        return bad(f"{exc}; name files with --pseudo EL=FILE --pseudo-dir DIR --set ecutwfc_Ry=CUTOFF")
    except ValueError as exc:
        return bad(str(exc))
    protocol, mustar = maker.protocol, maker.mustar
    workdir = Path(args.workdir or f"hts_tc/{structure.composition.reduced_formula}_{args.pressure:g}GPa_{protocol.name}")
    res = maker.run(structure, args.pressure, workdir)
    if res.ok and not args.keep_wavefunctions:  # a failed run keeps them: rerunning recovers from them
        maker.clean(workdir)
    out = {"ok": res.ok, "structure_file": str(path), "formula": structure.composition.reduced_formula,
           "pressure_GPa": args.pressure, "pseudo_family": family, "workdir": str(workdir), **res.tc}
    if res.failure:
        out["failure"] = res.failure
    if res.structure is not None:
        out["relaxed_lattice_abc_A"] = list(res.structure.lattice.abc)
    (workdir / "hts_tc.json").write_text(json.dumps(out, indent=1, default=str))
    if args.json:
        print(json.dumps(out, default=str))
        return 0 if res.ok else 1
    label = f" [{res.tc['label']}]" if res.tc.get("label") else ""
    head = f"{out['formula']} at {args.pressure:g} GPa, protocol {protocol.name}{label}, {family}"
    if not res.ok:
        f = res.failure or {}
        print(f"{head}: FAILED at {f.get('step')}: {f.get('kind')}: {f.get('message')}", file=sys.stderr)
        return 1
    tc = res.tc
    lo, hi = tc["tc_allen_dynes_K"]
    mus = ", ".join(f"{m:g}" for m in mustar)
    print(head)
    print(f"  lambda     {tc['lambda']:.3f}  (over smearings {min(tc['lambda_by_sigma']):.2f}-{max(tc['lambda_by_sigma']):.2f})")
    print(f"  omega_log  {tc['omega_log_K']:.0f} K   omega_2 {tc['omega_2_K']:.0f} K")
    print(f"  Tc Allen-Dynes {lo:.1f}-{hi:.1f} K, Eliashberg {tc['tc_eliashberg_K'][0]:.1f}-{tc['tc_eliashberg_K'][1]:.1f} K "
          f"(mu* {mus})")
    print(f"  k {tc['k_mesh']} (la2F {tc['k_mesh_fit']}), q {tc['q_mesh']}; min frequency {tc['min_frequency_cm1']:.0f} cm^-1")
    for w in tc.get("warnings", []):
        print(f"  warning: {w}")
    print(f"  files and hts_tc.json in {workdir}")
    return 0


def add_tc_run_command(tsub) -> None:
    """``hts tc run STRUCTURE ...``; ``hts tc STRUCTURE ...`` is the same command."""
    f = tsub.add_parser("run", help="DFPT lambda, omega_log and Tc of one structure file (also: hts tc STRUCTURE ...)")
    f.add_argument("structure", help="CIF or POSCAR file")
    f.add_argument("--pressure", type=float, required=True, help="GPa (vc-relax at this pressure first)")
    f.add_argument("--protocol", default="screening", choices=["smoke", "screening", "converged"])
    f.add_argument("--pseudo-family", default=None, help="default: the first shipped family covering every element")
    f.add_argument("--pseudo-dir", default=None, help="directory holding the family's files (SSSP, pslibrary)")
    f.add_argument("--pseudo", action="append", metavar="EL=FILE", help="a UPF file for an element (in --pseudo-dir)")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="protocol override, e.g. k=[8,8,8] ecutwfc_Ry=40")
    f.add_argument("--mustar", type=float, nargs="+", default=None, help="default 0.10 0.13")
    f.add_argument("--nprocs", type=int, default=1)
    f.add_argument("--npool", type=int, default=1, help="k-point pools (-nk) for pw.x and ph.x")
    f.add_argument("--mpi-command", default="mpirun -np {nprocs}")
    f.add_argument("--qe-bin-dir", default=None)
    f.add_argument("--step-timeout-s", type=float, default=None, help="wall-time limit of one QE run")
    f.add_argument("--max-retries", type=int, default=2)
    f.add_argument("--workdir", default=None, help="default hts_tc/FORMULA_PGPa_PROTOCOL (ph.x recover restarts from it)")
    f.add_argument("--keep-wavefunctions", action="store_true")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_cmd_tc_run)
