"""policycheck: policy-as-code compliance checking for backup infrastructure (version, hookimpl marker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy

    hookimpl: pluggy.HookimplMarker

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> pluggy.HookimplMarker:
    # ``hookimpl`` is made on first use so that `policycheck --version` does not import pluggy.
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker("policycheck")
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'policycheck' has no attribute {name!r}")
