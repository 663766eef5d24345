"""``python -m policycheck``: the same entry point as the console script."""
from policycheck.cli import entry

entry()
