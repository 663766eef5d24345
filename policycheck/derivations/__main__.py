"""``python -m policycheck.derivations``: print the core's derived-attributes table for docs/facts.md."""
from policycheck.derivations import markdown_table
from policycheck.derivations.core import DERIVATIONS

print(markdown_table(DERIVATIONS), end="")
