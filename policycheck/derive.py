"""Deriving facts after merging: references resolved to canonical ids, then every registered derivation
(the core's, policycheck/derivations/, and plugins') run in the order of their inputs."""
from __future__ import annotations

import warnings
from typing import Any

from policycheck.derivations import Derivation, DerivationError, collect, derived_from, run
from policycheck.derivations.base import why_unknown
from policycheck.derivations.core import DERIVATIONS
from policycheck.facts import Facts

__all__ = ["DERIVED_FROM", "derive", "registry", "why_unknown", "DerivationError"]

#: derived attribute -> the kinds it is computed from, computed from the core's registry (a failed
#: source of those kinds makes policies reading the attribute report error, not pass)
DERIVED_FROM: dict[tuple[str, str], set[str]] = derived_from(DERIVATIONS)


def registry(plugins: Any = None) -> list[Derivation]:
    """Every registered derivation: the core's and, with ``plugins`` (a :class:`policycheck.plugins.Plugins`),
    each loaded plugin's through the ``policycheck_derivations`` hook."""
    if plugins is None:
        return list(DERIVATIONS)
    return collect(plugins.pm.hook.policycheck_derivations())


def derive(facts: Facts, plugins: Any = None) -> None:
    """Add every derived fact in place (idempotent: values already present are kept). The table of what
    each derived attribute depends on is left on ``facts.derived_from`` for the engine."""
    facts.resolve_refs()  # a snapshot or a facts file may name entities by any alias, or by none
    facts.refs_canonical = True  # type: ignore[attr-defined]  # references now hold canonical ids
    derivs = registry(plugins)
    run(facts, derivs)
    facts.derived_from = DERIVED_FROM if plugins is None else derived_from(derivs)  # type: ignore[attr-defined]
    if plugins is not None:
        _legacy_hook(plugins, facts)


def _legacy_hook(plugins: Any, facts: Facts) -> None:
    """The untyped ``policycheck_derive_facts`` hook, kept for one release: it still runs, with a
    DeprecationWarning naming each plugin that implements it."""
    impls = plugins.pm.hook.policycheck_derive_facts.get_hookimpls()
    if not impls:
        return
    for impl in impls:
        warnings.warn(f"plugin {impl.plugin_name}: the policycheck_derive_facts hook is deprecated and will be "
                      "removed in the next release; register Derivation objects through "
                      "policycheck_derivations instead (docs/plugins.md)", DeprecationWarning, stacklevel=2)
    plugins.pm.hook.policycheck_derive_facts(facts=facts)
