"""The prescreen potential fine-tuned on hts's own DFT labels (hts.label)."""
