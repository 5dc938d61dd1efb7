"""Unit conversions used across hts (CODATA 2018 values)."""

GPA_TO_EV_PER_A3 = 1.0 / 160.21766208  # 1 GPa in eV/Angstrom^3
KBAR_PER_GPA = 10.0
THZ_TO_K = 47.99243073  # h * 1 THz / k_B
MEV_TO_K = 11.60451812
CMINV_TO_K = 1.438776877  # h c * 1 cm^-1 / k_B
RY_TO_K = 157887.512
THZ_TO_CMINV = 33.35640952
