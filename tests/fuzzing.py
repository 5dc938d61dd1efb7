"""Seeded generators of hostile inputs for the fuzz tests and ``benchmarks/fuzz.py``.

Each case is ``(kind, name, bytes)``: ``kind`` is ``"invalid"`` when the input belongs to a class that must be
refused (NaN in a float field, an unknown model or prototype, a broken template, a duplicate key, an alias
bomb, a secret in a URI, ...) or ``"mutant"`` when it is a random mutation whose validity is not known (it must
only never crash). :func:`run_config_case` and :func:`run_structure_case` feed a case to hts the way a user
would (``hts run`` / ``hts tc``) and classify the outcome.
"""

from __future__ import annotations

import copy
import hashlib
import io
import random
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

BASE = {
    "name": "fz", "systems": ["La-Y-H"], "pressures_GPa": [150.0],
    "generators": {"substitution": {"enabled": True, "rules": ["identity", "z_neighbour"], "max_atoms": 12},
                   "random": {"n_structures": 4, "stoichiometries": ["LaYH6"], "formula_units": [1], "max_atoms": 8,
                              "seed": 1, "min_sep_HH": 0.8, "volume_factor": 1.0}},
    "relax": {"model": "chgnet", "fmax_eV_A": 0.05, "max_steps": 100, "symprec": 0.01, "max_volume_ratio": 3.0},
    "references": {"elements": True, "max_steps": 100},
    "stability": {"hull_threshold_meV": 50.0},
    "phonons": {"enabled": True, "mesh": 4, "imaginary_tol_THz": 0.5},
    "tc": {"enabled": False, "protocol": "smoke", "mustar": [0.1, 0.13], "pseudo_family": "debian-lda-vbc",
           "mpi_command": "mpirun -np {nprocs}", "protocol_overrides": {"k": [4, 4, 4], "ecutwfc_Ry": 30}},
    "learning": {"enabled": False, "kappa": 1.0, "exploration_share": 0.3},
    "store": {"path": "hts_store", "database": "hts"},
}

# (path, value) edits that every valid campaign file must be refused for
FLOAT_FIELDS = [("pressures_GPa", 0), ("relax", "fmax_eV_A"), ("relax", "symprec"), ("relax", "max_volume_ratio"),
                ("stability", "hull_threshold_meV"), ("phonons", "imaginary_tol_THz"), ("tc", "mustar", 0),
                ("generators", "random", "min_sep_HH"), ("generators", "random", "volume_factor"),
                ("learning", "kappa"), ("learning", "exploration_share"), ("tc", "protocol_overrides", "ecutwfc_Ry")]
INVALID_EDITS = [
    (("relax", "model"), ["m3gnet", "chgnet2", "../evil", ""]),
    (("tc", "protocol_overrides", "kk"), [1]),
    (("tc", "protocol_overrides", "k"), [[4, 4], [0, 4, 4], "444", [4.5, 4, 4]]),
    (("tc", "pseudo_family"), ["sssp-nope", ""]),
    (("tc", "mpi_command"), ["mpirun -np {n}", "mpirun -np {nprocs", "mpirun {0}", "mpirun -np {nprocs}; rm -rf /",
                             "mpirun\n-np {nprocs}"]),
    (("generators", "substitution", "prototypes"), [["H3S-Im-3m-nope"], ["CaH6", "nope"], []]),
    (("generators", "random", "formula_units"), [[-3], [0], [], [1.5]]),
    (("generators", "random", "space_groups"), [[], [0], [231]]),
    (("generators", "substitution", "rules"), [[], ["teleport"]]),
    (("systems",), [["H"], ["H-H"], ["La-La-H"], ["La-"], ["Xx-H"], []]),
    (("generators", "random", "stoichiometries"), [["H0"], ["MgAlH5.5"], ["LaH-1"], ["LaYH6Zz"], ["La0YH6"]]),
    (("name",), ["../x", "a/b", "a\x00b", "a\nb", "", " x", "x" * 65]),
    (("store", "uri"), ["mongodb://u:p@h/", "mongodb://h/?tlsCertificateKeyFilePassword=k",
                        "mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:t", "http://h/"]),
    (("tc", "npool"), [3]),
    (("relax", "device"), ["gpu"]),
]
NONFINITE = [float("nan"), float("inf"), float("-inf")]


def _set(d: dict, path: tuple, value) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def invalid_configs(rng: random.Random):
    """Endless stream of configs from the classes that must be refused."""
    while True:
        cfg = copy.deepcopy(BASE)
        r = rng.random()
        if r < 0.3:
            path = rng.choice(FLOAT_FIELDS)
            _set(cfg, path, rng.choice(NONFINITE))
            yield "invalid", f"nonfinite {'.'.join(map(str, path))}", yaml.safe_dump(cfg).encode()
        elif r < 0.75:
            path, values = rng.choice(INVALID_EDITS)
            _set(cfg, path, rng.choice(values))
            yield "invalid", f"edit {'.'.join(map(str, path))}", yaml.safe_dump(cfg, allow_unicode=True).encode()
        elif r < 0.82:
            text = yaml.safe_dump(cfg)
            key = rng.choice(["relax:", "stability:", "name:", "phonons:"])
            dup = text + "\n" + key + (" x\n" if key == "name:" else " {}\n")
            yield "invalid", "duplicate key", dup.encode()
        elif r < 0.87:
            depth = rng.randint(6, 12)
            bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdefghijkl", "bcdefghijklm"[:depth]))
            text = yaml.safe_dump(cfg).replace("protocol_overrides:", "protocol_overrides:\n    bomb: *b\n    x_:", 1)
            yield "invalid", "alias bomb", (bomb.replace("a:", "_anchors_a:", 1) + text).encode()
        elif r < 0.92:
            raw = bytearray(yaml.safe_dump(cfg).encode())
            raw[rng.randrange(len(raw))] = rng.choice([0xFF, 0xFE, 0xC3, 0x80])
            yield "invalid", "non-UTF-8", bytes(raw)
        elif r < 0.96:
            n = rng.randint(200, 3000)
            yield "invalid", "deep nesting", (yaml.safe_dump(cfg) + "x: " + "[" * n + "]" * n + "\n").encode()
        else:
            yield "invalid", "oversize", (yaml.safe_dump(cfg) + "# " + "x" * (1 << 20) + "\n").encode()


def mutant_configs(rng: random.Random):
    """Endless stream of random mutations of the base config (validity unknown)."""
    junk = [None, True, -1, 0, 1e308, -1e-308, "", "x", [], {}, [1, 2], {"a": 1}, "\u202e", 2**70, "1e-3"]
    while True:
        cfg = copy.deepcopy(BASE)
        for _ in range(rng.randint(1, 4)):
            d, path = cfg, []
            while isinstance(d, dict) and d and rng.random() < 0.7:
                k = rng.choice(list(d))
                path.append(k)
                if not isinstance(d[k], dict):
                    break
                d = d[k]
            if not path:
                continue
            op = rng.random()
            parent = cfg
            for k in path[:-1]:
                parent = parent[k]
            if op < 0.3:
                parent.pop(path[-1], None)
            elif op < 0.8:
                parent[path[-1]] = rng.choice(junk)
            else:
                parent[rng.choice(["zz", "Relax", "name ", "1"])] = rng.choice(junk)
        text = yaml.safe_dump(cfg, allow_unicode=True)
        if rng.random() < 0.3:  # byte-level damage
            raw = bytearray(text.encode())
            for _ in range(rng.randint(1, 5)):
                i = rng.randrange(len(raw))
                raw[i] = rng.choice(b":-[]{}#&*!|>'\"%@` \n\t0")
            yield "mutant", "bytes", bytes(raw)
        else:
            yield "mutant", "values", text.encode()


def config_cases(n: int, seed: int = 0, invalid_share: float = 0.6):
    rng = random.Random(seed)
    inv, mut = invalid_configs(rng), mutant_configs(rng)
    for _ in range(n):
        yield next(inv) if rng.random() < invalid_share else next(mut)


POSCAR = """MgH2
1.0
3.0 0.0 0.0
0.0 3.0 0.0
0.0 0.0 3.0
Mg H
1 2
Direct
0.0 0.0 0.0
0.5 0.5 0.5
0.5 0.5 0.0
"""
CIF = """data_x
_cell_length_a 3.0
_cell_length_b 3.0
_cell_length_c 3.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_type_symbol
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Mg Mg1 0.0 0.0 0.0
H H1 0.5 0.5 0.5
H H2 0.5 0.5 0.0
"""


def structure_cases(n: int, seed: int = 0):
    """Malformed POSCAR/CIF files: every one must be refused with exit code 2."""
    rng = random.Random(seed)
    bad_numbers = ["nan", "NaN", "inf", "-inf", "1e400", "x", "", "1.2.3"]
    bad_lengths = bad_numbers + ["0.0", "1e-30", "1e30", "-0.0"]
    for i in range(n):
        cif = rng.random() < 0.4
        lines = (CIF if cif else POSCAR).splitlines()
        r = rng.random()
        if r < 0.35:  # a bad number in the cell or a coordinate
            rows = [k for k, ln in enumerate(lines) if (ln.startswith("_cell_length") if cif else 2 <= k <= 4 or k >= 8)]
            k = rng.choice(rows)
            parts = lines[k].split()
            j = rng.randrange(1 if cif else 0, len(parts)) if not cif else len(parts) - 1
            if cif and rng.random() < 0.5:
                k = rng.choice([k2 for k2, ln in enumerate(lines) if ln[:2] in ("Mg", "H ")])
                parts = lines[k].split()
                j = rng.randrange(2, 5)
            parts[j] = rng.choice(bad_lengths if cif and lines[k].startswith("_cell_length") else bad_numbers)
            lines[k] = " ".join(parts)
            name = "bad number"
        elif r < 0.5:  # unknown element
            sym = rng.choice(["Xx", "Qq", "Zz9", "Ab"])
            lines = [ln.replace("Mg", sym, 1) if ("Mg" in ln) else ln for ln in lines]
            name = "unknown element"
        elif r < 0.62:  # overlapping atoms
            lines = [ln.replace("0.5 0.5 0.0", "0.0 0.0 0.01") for ln in lines]
            name = "overlap"
        elif r < 0.72:  # zero-volume / flat cell
            if cif:
                lines = [ln.replace("_cell_angle_gamma 90", "_cell_angle_gamma 0") for ln in lines]
            else:
                lines[4] = "0.0 0.0 0.0"
            name = "zero volume"
        elif r < 0.8:  # truncated
            lines = lines[: rng.randint(0, 12 if cif else 7)]  # cut inside the header: no atoms left
            name = "truncated"
        elif r < 0.88:  # binary garbage
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
            yield "invalid", "garbage", data, ".cif" if cif else ".vasp"
            continue
        elif r < 0.94:  # huge cell
            if cif:
                lines = [ln.replace("_cell_length_a 3.0", "_cell_length_a 5000") for ln in lines]
            else:
                lines[1] = "2000.0"
            name = "huge cell"
        else:  # count mismatch
            if cif:
                lines = [ln.replace("H H2 0.5 0.5 0.0", "H H2 0.5") for ln in lines]
            else:
                lines[6] = "1 7"
            name = "count mismatch"
        yield "invalid", name, ("\n".join(lines) + "\n").encode(), ".cif" if cif else ".vasp"


def tree_digest(path: Path) -> str:
    """sha256 over every file under ``path`` (names and bytes); '' when it does not exist."""
    if not path.exists():
        return ""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _main_quiet(argv):
    from hts.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def run_config_case(data: bytes, workdir: Path, store: Path) -> str:
    """``accepted``, ``rejected`` (exit 2, one message, store unchanged), ``crash`` or ``store_write``."""
    from hts.config import ConfigError, load_config

    path = workdir / "case.yaml"
    path.write_bytes(data)
    try:
        load_config(path)
        return "accepted"
    except ConfigError:
        pass
    except Exception:  # noqa: BLE001 (anything but ConfigError is a crash)
        return "crash:" + traceback.format_exc(limit=3).strip().splitlines()[-1][:200]
    before = tree_digest(store)
    try:
        code, err = _main_quiet(["run", str(path), "--store", str(store), "--quiet"])
    except BaseException:  # noqa: BLE001
        return "crash:" + traceback.format_exc(limit=3).strip().splitlines()[-1][:200]
    if code != 2 or not err.startswith("hts: ") or "Traceback" in err:
        return f"crash:exit {code}: {err[:200]}"
    return "rejected" if tree_digest(store) == before else "store_write"


def run_structure_case(data: bytes, suffix: str, workdir: Path) -> str:
    """``rejected`` (exit 2 before any QE run, one message), ``accepted`` or ``crash``."""
    path = workdir / f"case{suffix}"
    path.write_bytes(data)
    try:
        code, err = _main_quiet(["tc", str(path), "--pressure", "100", "--workdir", str(workdir / "never"), "--json",
                                 "--qe-bin-dir", str(workdir / "no-qe")])
    except BaseException:  # noqa: BLE001
        return "crash:" + traceback.format_exc(limit=3).strip().splitlines()[-1][:200]
    if code == 2 and err.startswith("hts tc: ") and len(err.strip().splitlines()) == 1:
        return "rejected"
    if code == 2:
        return f"crash:messy error: {err[:200]}"
    return f"accepted:exit {code}"
