"""Disaster-recovery views of the facts: the recovery order (runbook), what breaks when something is
lost (whatif), and the pre-flight check before a restore (guard). Pure functions over facts: no printing,
no exit codes (cli.py does both)."""
