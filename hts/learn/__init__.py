"""Learning from the store: dataset export, features, surrogate models and the DFPT selection loop.

dataset  -> one row per candidate (every status) or per CompSC structure, same columns
features -> cheap descriptors from the structure and the MLIP stages (units in FEATURES)
surrogate-> lambda / omega_log regressors with uncertainty, Tc by Allen-Dynes, stability classifier
acquisition -> which candidates get DFPT next (UCB / EI + exploration share)
loop     -> one round: retrain on everything stored, rank what is left, mark the selection
"""
