"""Orchestration of the `ansible` collector: run ansible-inventory (client), parse, map hosts to a fragment."""
from __future__ import annotations

from typing import Any

from policycheck.api import CollectContext

from . import client, mapping, parse, tables


def collect(settings: dict[str, Any], ctx: CollectContext) -> dict[str, Any]:
    """Run ansible-inventory over the configured sources and return a facts fragment."""
    sources = settings["inventory"]
    if isinstance(sources, str):
        sources = [sources]
    data = client.run_inventory(
        sources, binary=settings.get("ansible_inventory"), ansible_config=settings.get("ansible_config"),
        base_dir=getattr(ctx, "base_dir", "."), timeout=float(ctx.timeout or 60), redact=ctx.redact,
        limit=settings.get("limit"), log=ctx.log, deadline=ctx.deadline)
    hosts = parse.parse(data)
    fragment = mapping.fragment(hosts, tables.build(settings.get("mapping")), settings.get("complete") or ())
    ctx.log(f"ansible: {len(hosts)} hosts from {len(sources)} inventory source(s)")
    ctx.progress(sum(len(v) for v in fragment["entities"].values()))
    return fragment
