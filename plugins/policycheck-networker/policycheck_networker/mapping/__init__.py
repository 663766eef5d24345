"""Pure vendor-to-facts mapping of NetWorker's REST answers (no I/O, no clock): ``build_fragment``.

- ``infra``: server, storage nodes, devices, libraries, volumes; ``backups``: save sets into bootstraps,
  clients' latest backups and their copies; ``jobs``: the job log into failed runs; ``policies``:
  protection policies into evidence and Data Domain retention lock; ``times``: NetWorker time texts.
"""
from policycheck_networker.mapping.fragment import build_fragment

__all__ = ["build_fragment"]
