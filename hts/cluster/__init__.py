"""Campaigns on a cluster queue through FireWorks: submit (idempotent), status, resume."""
