"""Makes this directory's helpers importable and registers their fixtures (bacula_stack, bacula_inventory)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bacula_helpers import bacula_inventory, bacula_stack  # noqa: E402,F401
