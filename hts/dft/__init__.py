"""Density-functional engine (Quantum ESPRESSO): pseudopotentials, inputs, runs and their faults."""
