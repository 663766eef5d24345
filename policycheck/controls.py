"""Control frameworks a policy's ``controls:`` maps to, and the per-control summary of a report.

A policy writes ``controls: {nist-800-53: [CP-9, CP-9(3)], cis-v8: ["11.2"], ...}``. The frameworks and
their id patterns live here (the policy schema repeats them: tests/test_controls.py keeps both equal).
A site's own framework is any name starting with ``x-`` (ids free-form)."""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policycheck.policy import Policy
    from policycheck.results import Result, Tally

#: name -> (title, id pattern, an example id)
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "nist-800-53": ("NIST SP 800-53 rev. 5", r"^[A-Z]{2}-[0-9]{1,2}(\([0-9]{1,2}\))?$", "CP-9(3)"),
    "cis-v8": ("CIS Controls v8", r"^(1[0-8]|[1-9])(\.[0-9]{1,2})?$", "11.2"),
    "iso-27001": ("ISO/IEC 27001:2022 Annex A", r"^A\.[5-8]\.[0-9]{1,2}$", "A.8.13"),
    "nis2": ("NIS2 implementing regulation (EU) 2024/2690, annex", r"^[0-9]{1,2}(\.[0-9]{1,2}){1,3}(\([a-z]\))?$",
             "4.2.2(b)"),
    "dora": ("DORA (EU) 2022/2554", r"^Art\. ?[0-9]{1,2}(\([0-9]{1,2}\))?(\([a-z]\))?$", "Art. 12(1)(a)"),
}
CUSTOM_PREFIX = "x-"
#: short names people type for --framework
ALIASES = {"nist": "nist-800-53", "800-53": "nist-800-53", "nist80053": "nist-800-53", "cis": "cis-v8",
           "cis8": "cis-v8", "iso": "iso-27001", "iso27001": "iso-27001", "27001": "iso-27001",
           "nis-2": "nis2", "dora-12": "dora"}


def framework_order(name: str) -> tuple[int, str]:
    names = list(FRAMEWORKS)
    return (names.index(name), name) if name in FRAMEWORKS else (len(names), name)


def _natural(text: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def control_key(framework: str, control: str) -> tuple[int, str, tuple[int | str, ...]]:
    return framework_order(framework) + (_natural(control),)


def known_framework(name: str) -> str | None:
    """The canonical name of a framework (or an alias), a site's own ``x-...`` framework, or None."""
    low = name.strip().lower()
    low = ALIASES.get(low, low)
    if low in FRAMEWORKS or low.startswith(CUSTOM_PREFIX) and len(low) > 2:
        return low
    return None


def parse_selector(text: str, known_in_policies: Iterable[str] = ()) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:CONTROL-GLOB`` (``nist-800-53:CP-9*``) -> (framework, glob or None). Raises
    ValueError with a suggestion for an unknown framework."""
    name, _, ctl = str(text).partition(":")
    fw = known_framework(name)
    if fw is None:
        from policycheck.textutil import suggest

        choices = list(FRAMEWORKS) + [f for f in known_in_policies if f not in FRAMEWORKS]
        raise ValueError(f"--framework {text!r}: unknown framework '{name}'" + suggest(name.lower(), choices + list(ALIASES))
                         + f" (frameworks: {', '.join(choices)}; a site's own starts with x-)")
    return fw, (ctl.strip() or None)


def policy_matches(policy: object, selectors: Iterable[tuple[str, str | None]]) -> bool:
    controls = getattr(policy, "controls", None) or {}
    for fw, glob in selectors:
        ids = controls.get(fw) or ()
        if ids and (glob is None or any(fnmatch.fnmatchcase(i, glob) for i in ids)):
            return True
    return False


def controls_text(controls: dict[str, list[str]] | None) -> str:
    """``nist-800-53: CP-9, CP-9(3); cis-v8: 11.2`` (frameworks in the catalog's order)."""
    return "; ".join(f"{fw}: {', '.join(ids)}" for fw, ids in
                     sorted((controls or {}).items(), key=lambda kv: framework_order(kv[0])))


def control_summary(results: Iterable[Result], policies: Iterable[Policy],
                    frameworks: Collection[str] | None = None, tallied: Tally | None = None) -> list[dict[str, Any]]:
    """Each control of the evaluated policies (only ``frameworks`` when given): its policies and the
    pass/fail/error/skip/waived counts of their results (a source's own results not counted), in framework
    then natural id order. ``tallied``: :func:`policycheck.results.tally` of ``results``, if made already."""
    from policycheck.results import STATUSES, tally

    counts: dict[str, dict[str, int]] = {}
    for (pid, _, kind, status), n in (tally(results) if tallied is None else tallied).items():
        if kind == "source":
            continue
        c = counts.get(pid)
        if c is None:
            c = counts[pid] = dict.fromkeys(STATUSES, 0)
        c[status] += n
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in policies:
        for fw, ids in (getattr(p, "controls", None) or {}).items():
            if frameworks and fw not in frameworks:
                continue
            for cid in ids:
                row = rows.get((fw, cid))
                if row is None:
                    row = rows[(fw, cid)] = {"framework": fw, "control": cid, "policies": [],
                                             **dict.fromkeys(STATUSES, 0)}
                if p.id in row["policies"]:
                    continue
                row["policies"].append(p.id)
                for st, n in counts.get(p.id, {}).items():
                    row[st] += n
    for row in rows.values():
        row["policies"].sort()
    return [rows[k] for k in sorted(rows, key=lambda k: control_key(*k))]
