"""``hts label``: DFT labels (pw.x scf energies, forces, stresses) at pressure for the prescreen potential."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_label_command"]


def _cmd_label(args) -> int:
    import math

    from hts.cli_common import store_from_args
    from hts.label.configurations import label_configurations

    if args.relabel:
        return _relabel(args)
    args.pressures = args.pressures or [50.0, 150.0, 300.0]
    args.sources = args.sources or ["element", "prototype"]
    if not set(args.sources) <= {"element", "prototype", "ternary"}:
        print("hts label: --sources candidate and soft_mode pick labels to make again (--relabel); "
              "use --campaign or --soft-modes to make new ones", file=sys.stderr)
        return 2
    if not all(math.isfinite(p) and 0 <= p <= 1000 for p in args.pressures):
        print("hts label: --pressures must be finite numbers in [0, 1000] GPa", file=sys.stderr)
        return 2
    if args.supercells is not None and not (math.isfinite(args.supercells) and args.supercells > 0):
        print("hts label: --supercells must be a positive length in A", file=sys.stderr)
        return 2
    if args.soft_modes and not all(math.isfinite(a) and 0 < a <= 0.5 for a in args.amplitudes):
        print("hts label: --amplitudes must lie in (0, 0.5] A", file=sys.stderr)
        return 2
    if args.soft_modes and args.campaign:
        print("hts label: --soft-modes labels element and prototype cells; give --elements, not --campaign",
              file=sys.stderr)
        return 2
    if not args.elements and not args.campaign:
        print("hts label: give --elements (element and prototype cells) or --campaign (its relaxed candidates)",
              file=sys.stderr)
        return 2
    if not _known_elements(args.elements):
        return 2
    volumes = None
    source = args.volume_labels or args.export
    if args.volume_labels and not Path(args.volume_labels).is_file():
        print(f"hts label: no label file {args.volume_labels} (--volume-labels)", file=sys.stderr)
        return 2
    if args.volumes == "calibrated" and source and Path(source).is_file():
        from hts.label.run import read_rows
        from hts.label.volumes import CalibratedVolumes

        volumes = CalibratedVolumes.from_labels(read_rows(Path(source)))
        print(f"volumes at pressure from the labels in {source} for {sorted(volumes.fits)}", file=sys.stderr)
    cells = {"max_atoms": args.max_atoms, "prototypes": not args.no_prototypes, "volumes": volumes,
             "sources": tuple(args.sources)}
    if args.soft_modes:  # frozen phonons of the unstrained, unrattled cells instead of strained and rattled ones
        from hts.label.soft_modes import soft_mode_label_configurations

        bases = label_configurations(args.elements, args.pressures, strains=(0.0,), rattle_A=0.0, **cells)
        configs = soft_mode_label_configurations(bases, args.soft_modes, args.supercells or 4.5, args.max_atoms,
                                                 tuple(args.amplitudes))
        print(f"{len(configs)} frozen-phonon configurations along the soft modes of {args.soft_modes} in "
              f"{len(bases)} cells", file=sys.stderr)
    else:
        configs = label_configurations(args.elements, args.pressures, strains=tuple(args.strains),
                                       rattle_A=args.rattle_A, n_rattle=args.n_rattle,
                                       supercell_min_length_A=args.supercells, **cells) if args.elements else []
    store = store_from_args(args, must_exist=bool(args.campaign))
    try:
        if args.campaign:
            from hts.label.configurations import candidate_configurations

            crit = {"campaign": args.campaign, "structure": {"$exists": True}}
            if args.candidates == "uncertain":
                crit["relax.uncertain"] = True
            docs = store.find(crit)
            configs += candidate_configurations(docs, strains=(0.0,), rattle_A=args.rattle_A, n_rattle=args.n_rattle,
                                                max_atoms=args.max_atoms, supercell_min_length_A=args.supercells)
            print(f"{len(docs)} {args.candidates} candidates of campaign {args.campaign}", file=sys.stderr)
        return _label(store, configs, args)
    finally:
        store.close()


def _known_elements(elements) -> bool:
    """Whether every symbol given is an element's; else a one-line error."""
    from pymatgen.core import Element

    bad = [e for e in elements or [] if not Element.is_valid_symbol(e)]
    if bad:
        print(f"hts label: unknown element(s) {bad}", file=sys.stderr)
    return not bad


def _show(doc: dict) -> None:
    what = f"P {doc.get('pressure_GPa', float('nan')):.1f} GPa, {doc['wall_s']:.0f} s" if doc["status"] == "ok" \
        else f"FAILED {doc['failure']['kind']}: {doc['failure']['message'][:80]}"
    print(f"{doc['id']} {doc['formula']:>8} ({doc['n_atoms']} atoms, target {doc['target_pressure_GPa']:g} GPa): "
          f"{what}", flush=True)


def _label(store, configs, args, export_only_these: bool = False) -> int:
    """Label ``configs`` the store lacks at the command's settings, export (``export_only_these``: only theirs and
    what the file holds), and print this run's counts."""
    from hts.label.run import read_rows, run_labels

    settings = _settings(args)
    print(f"{len(configs)} configurations; labelling at most {args.limit or 'all'} not yet in {store.description} "
          f"at these settings", file=sys.stderr)
    counts = run_labels(store, configs, settings, Path(args.workdir), args.limit,
                        Path(args.export) if args.export else None, progress=_show, export_only_these=export_only_these)
    if args.export:
        print(f"{len(read_rows(Path(args.export)))} labels in {args.export}", file=sys.stderr)
    print("this run: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing left to label"))
    return 0


def _settings(args):
    from hts.label.dft import LabelSettings

    return LabelSettings(family=args.family, k_spacing_invA=args.k_spacing, ecut_scale=args.ecut_scale,
                         nprocs=args.nprocs, npool=args.npool, timeout_s=args.timeout_s)


def _relabel(args) -> int:
    """``--relabel FILE``: the labels of FILE (filtered) made again where theirs are coarser, replacing them there
    or, with ``--export OTHER``, written to OTHER (FILE untouched: the labels a shipped model was trained on stay)."""
    from hts.cli_common import store_from_args
    from hts.label.configurations import relabel_configurations
    from hts.label.run import covers, read_rows

    if args.campaign or args.soft_modes:
        print("hts label: --relabel takes its cells from the label file; not with --campaign or --soft-modes",
              file=sys.stderr)
        return 2
    if not _known_elements(args.elements):
        return 2
    if not Path(args.relabel).is_file():
        print(f"hts label: no label file {args.relabel} (--relabel)", file=sys.stderr)
        return 2
    into_file = not args.export or Path(args.export).resolve() == Path(args.relabel).resolve()
    args.export = args.export or args.relabel
    settings = _settings(args)
    try:
        rows = [r for r in read_rows(Path(args.relabel)) if not covers(r, settings)]
        configs = relabel_configurations(rows, args.elements, args.pressures, args.sources)
    except ValueError as exc:
        print(f"hts label: {exc}", file=sys.stderr)
        return 2
    store = store_from_args(args, must_exist=False)
    try:
        return _label(store, configs, args, export_only_these=not into_file)
    finally:
        store.close()


def add_label_command(sub, add_store_args) -> None:
    p = sub.add_parser("label", help="pw.x labels (energy, forces, stress) at pressure for the prescreen potential")
    add_store_args(p)
    p.add_argument("--elements", nargs="+", help="elements of the chemical space (H is always added)")
    p.add_argument("--campaign", help="also label this campaign's relaxed candidates (in the same store)")
    p.add_argument("--candidates", choices=["uncertain", "relaxed"], default="uncertain",
                   help="with --campaign: those the committee marked relax.uncertain (default), or every relaxed one")
    p.add_argument("--pressures", nargs="+", type=float, default=None, help="GPa (default 50 150 300)")
    p.add_argument("--relabel", default=None, metavar="FILE",
                   help="label again the labels of FILE made at a coarser k spacing (or lower cutoffs) than asked for, "
                        "on their own cells, and replace them in FILE (or write them to --export, FILE untouched); "
                        "--elements (labels of these elements only), --pressures and --sources pick which")
    p.add_argument("--strains", nargs="+", type=float, default=[-0.1, 0.0, 0.1], help="volume strains around V(P)")
    p.add_argument("--rattle-A", type=float, default=0.05)
    p.add_argument("--n-rattle", type=int, default=1)
    p.add_argument("--max-atoms", type=int, default=8)
    p.add_argument("--supercells", type=float, default=None, metavar="MIN_LENGTH_A",
                   help="label the supercells the MLIP phonon check uses (lattice vectors >= this, at most --max-atoms) "
                        "instead of primitive cells; cells the check would not enlarge are skipped")
    p.add_argument("--soft-modes", default=None, metavar="MODEL",
                   help="label frozen phonons instead: the cells displaced along MODEL's imaginary modes at the q points "
                        "of the phonon supercell (--supercells, default 4.5 A; --max-atoms)")
    p.add_argument("--amplitudes", nargs="+", type=float, default=[0.05, 0.1, 0.2],
                   help="A, largest atomic displacement of each frozen phonon (--soft-modes)")
    p.add_argument("--no-prototypes", action="store_true", help="element and H phases only")
    p.add_argument("--sources", nargs="+", choices=["element", "prototype", "ternary", "candidate", "soft_mode"],
                   default=None,
                   help="element (and H) phases, binary hydride prototypes, ternary ones (two metals on a prototype's "
                        "metal sites); default: element prototype. With --relabel also candidate and soft_mode "
                        "(default: every source)")
    p.add_argument("--volumes", choices=["calibrated", "estimate"], default="calibrated",
                   help="volume at pressure: fitted to the labels already in --export (default), or a-priori")
    p.add_argument("--volume-labels", default=None, metavar="FILE",
                   help="with --volumes calibrated: the label file to fit volumes to (default: --export)")
    p.add_argument("--family", default="psl-us-pbe")
    p.add_argument("--k-spacing", type=float, default=0.30, help="1/A, 2 pi included")
    p.add_argument("--ecut-scale", type=float, default=1.0)
    p.add_argument("--nprocs", type=int, default=1)
    p.add_argument("--npool", type=int, default=1)
    p.add_argument("--timeout-s", type=float, default=1800)
    p.add_argument("--limit", type=int, default=None, help="label at most this many now (resumable)")
    p.add_argument("--workdir", default="hts_labels")
    p.add_argument("--export", default=None, help="JSON-lines file of every label (e.g. data/potential/labels.jsonl)")
    p.set_defaults(func=_cmd_label)
