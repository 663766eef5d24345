"""Pure vendor-to-facts mapping of NetWorker's REST answers (no I/O, no clock): ``build_fragment``.

- ``infra``: server, storage nodes, devices, libraries, volumes; ``backups``: save sets into bootstraps
  and each client's latest backup and copies; ``clients``: client resources into client facts;
  ``jobs``: the job log into failed runs; ``policies``: protection policies into evidence and Data
  Domain retention lock; ``times``: NetWorker time texts; ``fragment``: all of it into one fragment.
"""
from policycheck_networker.mapping.fragment import build_fragment

__all__ = ["build_fragment"]
