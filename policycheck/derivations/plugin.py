"""The built-in plugin that registers the core's derivations through the ``policycheck_derivations`` hook."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.derivations import Derivation
from policycheck.derivations.core import DERIVATIONS


@hookimpl
def policycheck_derivations() -> list[Derivation]:
    """The core's derivations: see policycheck/derivations/core.py and docs/facts.md."""
    return list(DERIVATIONS)
