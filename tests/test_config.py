import subprocess
import sys
from pathlib import Path

import pytest

from hts.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
GOOD = """
name: t
systems: [La-Y-H]
pressures_GPa: [150]
"""


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_good_config_has_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.systems == ["H-La-Y"] and cfg.pressures_GPa == [150.0]
    assert cfg.tc.mustar == [0.10, 0.13]
    assert cfg.store.uri is None and cfg.store.path == "hts_store"


BASE = "name: t\nsystems: [La-H]\npressures_GPa: [100]\n"


@pytest.mark.parametrize("text,needle", [
    ("name: t\nsystems: [La-Y-H]\npressures_GPa: [150\n", "not valid YAML"),
    ("name: t\nsystems: [Xx-H]\npressures_GPa: [150]\n", "systems: unknown element 'Xx'"),
    ("name: t\nsystems: [La-H]\npressures_GPa: [-5]\n", "pressures_GPa: pressure must be >= 0 GPa"),
    ("name: t\nsystems: [La-Y]\npressures_GPa: [100]\n", "contains no hydrogen"),
    ("name: t\nsystems: [La-H]\npressures_GPa: [100]\nrelax: {fmax_eV_A: -1}\n", "relax.fmax_eV_A"),
    ("name: t\nsystems: [La-H]\npressures_GPa: [100]\nrelx: {}\n", "relx"),
    ("- just\n- a list\n", "expected a mapping"),
    (BASE + "pressures_GPa: [.nan]\n", "duplicate key 'pressures_GPa'"),
    (BASE + "relax: {model: m3gnet}\n", "unknown relax.model 'm3gnet'"),
    (BASE + "relax: {fmax_eV_A: .nan}\n", "relax.fmax_eV_A: Input should be a finite number"),
    (BASE + "tc: {protocol_overrides: {kk: 1}}\n", "unknown protocol override(s) ['kk']"),
    (BASE + "tc: {pseudo_family: nope}\n", "unknown pseudo_family 'nope'"),
    (BASE + "tc: {mpi_command: 'mpirun -np {n}'}\n", "does not format with {nprocs} alone"),
    (BASE + "generators: {substitution: {prototypes: [nope]}}\n", "unknown prototype(s) ['nope']"),
    (BASE + "generators: {random: {formula_units: [-3]}}\n", "generators.random.formula_units.0"),
    (BASE + "generators: {random: {space_groups: []}}\n", "generators.random.space_groups"),
    (BASE + "generators: {random: {stoichiometries: [LaH5.5]}}\n", "whole, positive counts"),
    (BASE + "store: {uri: 'mongodb://h/?tlsCertificateKeyFilePassword=pw'}\n", "holds a secret (the option tlsCertificateKeyFilePassword)"),
    (BASE + "x: &a [1, 2]\ny: *a\n", "YAML aliases (*name) are not accepted"),
])
def test_bad_config_names_the_field(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    assert needle in str(exc.value), str(exc.value)
    assert "pw" not in str(exc.value).replace("Password", "")  # a refused secret is named, never shown


def test_cli_rejects_bad_config_and_writes_nothing(tmp_path):
    p = _write(tmp_path, "name: t\nsystems: [La-H]\npressures_GPa: [-5]\n")
    r = subprocess.run([sys.executable, "-m", "hts.cli", "run", str(p), "--store", str(tmp_path / "st")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert "pressures_GPa: pressure must be >= 0 GPa" in r.stderr
    assert not (tmp_path / "st").exists()


def test_learning_settings_validated(tmp_path):
    import yaml

    from hts.config import ConfigError, load_config

    base = {"name": "x", "systems": ["La-H"], "pressures_GPa": [150]}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({**base, "learning": {"enabled": True, "exploration_share": 0.5, "rule": "ei"}}))
    cfg = load_config(p)
    assert cfg.learning.enabled and cfg.learning.rule == "ei" and cfg.learning.model == "forest"
    p.write_text(yaml.safe_dump({**base, "learning": {"exploration_share": 1.5}}))
    with pytest.raises(ConfigError, match="learning.exploration_share"):
        load_config(p)


@pytest.mark.parametrize("data,needle", [
    (b"name: t\xff\n", "not UTF-8 text"),
    (b"name: ../x\nsystems: [La-H]\npressures_GPa: [100]\n", "name: String should match pattern"),
    (b"name: t\nsystems: [H-H]\npressures_GPa: [100]\n", "names an element twice"),
    (b"x: " + b"[" * 500 + b"]" * 500 + b"\n", "nesting deeper than 12 levels"),
    (b"# " + b"x" * (1 << 20) + b"\n", "larger than 1 MiB"),
])
def test_hostile_files_are_one_line_errors(tmp_path, data, needle):
    p = tmp_path / "c.yaml"
    p.write_bytes(data)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert needle in str(exc.value), str(exc.value)


def test_committee_members_share_one_energy_scale(tmp_path):
    """A committee mixes no shipped model with fine-tuned ones (their energy zeros differ by the refit offsets);
    members must cover the campaign's elements like relax.model does."""
    import json

    from hts.config import CampaignConfig

    ft = tmp_path / "ft"
    ft.mkdir()
    (ft / "model.json").write_text(json.dumps({"elements": ["H", "Li"]}))
    base = {"name": "c", "systems": ["Li-H"], "pressures_GPa": [100]}
    with pytest.raises(ValueError, match="different energy zeros"):
        CampaignConfig.model_validate({**base, "relax": {"model": "chgnet", "committee": [str(ft)]}})
    ok = CampaignConfig.model_validate({**base, "relax": {"model": "chgnet", "committee": ["7net-0"]}})
    assert ok.relax.committee == ["7net-0"]
    with pytest.raises(ValueError, match="was fine-tuned on"):
        CampaignConfig.model_validate({**base, "systems": ["La-H"], "relax": {"model": str(ft), "committee": [str(ft)]}})


def test_model_directory_is_relative_to_the_config_file(tmp_path, monkeypatch):
    """A config names its fine-tuned model relative to itself, so it runs the same from any working directory
    (``make demo`` runs in demo_output/); a missing one is refused with the place looked at."""
    import json

    (tmp_path / "models" / "ft").mkdir(parents=True)
    (tmp_path / "models" / "ft" / "model.json").write_text(json.dumps({"elements": ["H", "La"]}))
    (tmp_path / "configs").mkdir()
    p = tmp_path / "configs" / "c.yaml"
    p.write_text(BASE + "relax: {model: ../models/ft, committee: [../models/ft]}\n")
    monkeypatch.chdir(tmp_path / "configs")
    here = load_config("c.yaml")
    monkeypatch.chdir(tmp_path.parent)
    there = load_config(p)
    assert here.relax.model == there.relax.model == str(tmp_path / "models" / "ft")
    assert there.relax.committee == [str(tmp_path / "models" / "ft")]
    p.write_text(BASE + "relax: {model: models/ft}\n")  # relative to the working directory: not looked up there
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"no fine-tuned model \\(model.json\\) in {tmp_path / 'configs' / 'models'}"):
        load_config(p)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_shipped_configs_load(name, tmp_path, monkeypatch):
    """Every campaign YAML the repository ships is valid against the current schema, from any working directory
    (its model path included)."""
    from hts.relax.mlip import OFFLINE_MODELS

    monkeypatch.chdir(tmp_path)
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.name and cfg.systems and cfg.pressures_GPa
    model = cfg.relax.model
    assert model in OFFLINE_MODELS or (Path(model) / "model.json").is_file()
