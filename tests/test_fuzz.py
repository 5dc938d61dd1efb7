"""Seeded fuzzing of what users hand to hts: >= 1,000 mutated campaign files and >= 200 malformed structure files
per run. No input may crash hts (a traceback, a signal, an exit code other than 0/1/2), no input of an invalid
class may be accepted, and a refused input leaves the store byte-identical (tests/fuzzing.py)."""

from __future__ import annotations

from collections import Counter

from fuzzing import config_cases, run_config_case, run_structure_case, structure_cases


def test_thousand_mutated_configs(tmp_path):
    seen, wrong = Counter(), []
    for kind, name, data in config_cases(1000, seed=2026):
        out = run_config_case(data, tmp_path, tmp_path / "store")
        seen[kind, out.split(":")[0]] += 1
        if out.startswith("crash") or out == "store_write" or (kind == "invalid" and out == "accepted"):
            wrong.append((name, out, data[:300]))
    assert not wrong, wrong[:5]
    assert sum(seen.values()) == 1000 and seen["invalid", "rejected"] >= 500, seen
    assert seen["mutant", "accepted"] > 0 and seen["mutant", "rejected"] > 0, seen  # the mutants are not all trivial


def test_two_hundred_malformed_structures(tmp_path):
    kinds, wrong = Counter(), []
    for _, name, data, suffix in structure_cases(200, seed=2026):
        out = run_structure_case(data, suffix, tmp_path)
        kinds[name] += 1
        if out != "rejected":
            wrong.append((name, out, data[:300]))
    assert not wrong, wrong[:5]
    assert not (tmp_path / "never").exists()  # nothing reached QE's working directory
    assert len(kinds) >= 8, kinds  # every class of damage was drawn
