"""DFT labels for the prescreen potential: configurations at pressure, pw.x scf labels, their store and export."""
