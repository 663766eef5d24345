"""Every hook a policycheck plugin can implement; each is documented in docs/plugins.md."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from policycheck.api import Collector, Derivation, Reporter
    from policycheck.facts import Facts

hookspec = pluggy.HookspecMarker("policycheck")


@hookspec
def policycheck_collectors() -> list[Collector]:
    """Return a list of :class:`policycheck.api.Collector` this plugin provides.

    A config's ``sources[].plugin`` names one of them by ``Collector.name``. The built-in
    ``file`` collector is registered through this same hook.
    """
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def policycheck_reporters() -> list[Reporter]:
    """Return a list of :class:`policycheck.api.Reporter` (output formats) this plugin provides.

    The built-in ``text``, ``json``, ``junit``, ``markdown``, ``sarif``, ``html`` and ``openmetrics``
    formats come through this hook.
    """
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def policycheck_policy_dirs() -> list[str | os.PathLike[str]]:
    """Return a list of directories (``str`` or ``pathlib.Path``) holding policy YAML files.

    Policies found there are loaded beside the built-in catalog and validated the same way.
    """
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def policycheck_derivations() -> list[Derivation]:
    """Return a list of :class:`policycheck.api.Derivation`: derived attributes this plugin computes.

    Each names the kind and attribute it produces, the (kind, attribute) inputs it reads, a function
    ``fn(facts)`` that fills the attribute where it is absent, a one-line doc and an example. The
    core's own derivations come through this hook; all of them run after merging, in the order of
    their inputs (a derivation reading another's output runs after it), for ``check``, ``audit``,
    ``collect`` and ``policies test`` alike. Do no I/O in ``fn``.
    """
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def policycheck_derive_facts(facts: Facts) -> None:
    """Deprecated (removed in the next release): use :func:`policycheck_derivations`.

    Add derived facts to the merged :class:`policycheck.facts.Facts` after the registered
    derivations ran. Still called, with a DeprecationWarning naming the plugin.
    """
