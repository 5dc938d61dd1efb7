import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPSC = Path(os.environ.get("HTS_COMPSC_DIR", ROOT.parent / "shared" / "data" / "compsc"))


@pytest.fixture
def compsc_dir():
    if not (COMPSC / "supercond_data_fig15.csv").exists():
        pytest.skip(f"CompSC data not found at {COMPSC} (set HTS_COMPSC_DIR)")
    return COMPSC
