"""Every hook a policycheck plugin can implement; each is documented in docs/plugins.md."""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("policycheck")


@hookspec
def policycheck_collectors():
    """Return a list of :class:`policycheck.api.Collector` this plugin provides.

    A config's ``sources[].plugin`` names one of them by ``Collector.name``. The built-in
    ``file`` collector is registered through this same hook.
    """


@hookspec
def policycheck_reporters():
    """Return a list of :class:`policycheck.api.Reporter` (output formats) this plugin provides.

    The built-in ``text``, ``json``, ``junit``, ``markdown``, ``sarif``, ``html`` and ``openmetrics``
    formats come through this hook.
    """


@hookspec
def policycheck_policy_dirs():
    """Return a list of directories (``str`` or ``pathlib.Path``) holding policy YAML files.

    Policies found there are loaded beside the built-in catalog and validated the same way.
    """


@hookspec
def policycheck_derive_facts(facts):
    """Add derived facts to the merged :class:`policycheck.facts.Facts` after merging.

    Called after the core's own derivations. Use ``facts.entities(kind)`` and plain dict
    updates on entities; do no I/O here (the engine's input must be reproducible from a
    snapshot). Return nothing.
    """
