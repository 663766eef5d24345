"""``python -m policycheck``: the same entry point as the console script."""
import sys

from policycheck.cli import main

sys.exit(main())
