"""policycheck: policy-as-code compliance checking for backup infrastructure (version, hookimpl marker)."""
import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@policycheck.hookimpl``.
hookimpl = pluggy.HookimplMarker("policycheck")

__all__ = ["__version__", "hookimpl"]
