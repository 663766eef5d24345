"""The ``junit`` format: one <testsuite> per policy, one <testcase> per target (classname = policy id,
name = target id); fail → <failure>, error → <error>, not applicable and waived → <skipped>."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.missing import Missing
from policycheck.results import _SCALARS, ERROR, FAIL, PASS, SKIP, WAIVED, evidence_source, jsonable
from policycheck.textsafe import guard, line
from policycheck.textutil import describe

if TYPE_CHECKING:
    from policycheck.policy import Policy
    from policycheck.results import Report, Result

MESSAGE_MAX = 500          # one-line messages (XML attributes)
VALUE_MAX = 2000           # one observed value in a body
BODY_MAX = 64 * 1024       # one failure/error/skipped body

# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) and
# the C1 controls (invisible, and mostly stripped by junit-xml): written as visible \xNN / \uNNNN escapes.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufddf\ufffe\uffff"
                      "\u2028\u2029\u202a-\u202e\u2066-\u2069"  # and the bidi overrides that reorder text
                      + "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF) for p in range(1, 17))
                      + "]")  # and the non-characters of planes 1-16 (U+1FFFE ...), which junit-xml drops


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"


_ILLEGAL_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: object, limit: int | None = None) -> str:
    """``text`` as a string that survives XML 1.0 intact and readable, cut to ``limit`` characters."""
    s = str(text)
    s = (_ILLEGAL_ASCII if s.isascii() else _ILLEGAL).sub(_escape, s)
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    return s


def one_line(text: object, limit: int = MESSAGE_MAX) -> str:
    return clean(" ".join(str(text).split()), limit)


def _v(value: object) -> str:
    """A value inside a multi-line body: on one line (its own line breaks shown as \\n), so no value
    can start a line a CI runner reads as a command when the report is printed."""
    return line(value)


_CHECK_TEXT: dict[int, tuple[Any, str, str]] = {}  # id of a check (Leaf) -> (the check, its fact and expected text as a body shows them)


def _check_text(leaf: Any) -> tuple[str, str]:
    t = _CHECK_TEXT.get(id(leaf))
    if t is None or t[0] is not leaf:
        if len(_CHECK_TEXT) > 10000:  # checks of policies no longer in use (a long test session)
            _CHECK_TEXT.clear()
        t = _CHECK_TEXT[id(leaf)] = (leaf, f"  {_v(leaf.path.text)} = ", f"; expected {_v(leaf.expected_text())}")
    return t[1], t[2]


def _evidence_line(e: dict[str, Any]) -> str:
    obs = f"missing ({e['missing']})" if e.get("missing") else describe(e.get("observed"), VALUE_MAX)
    where = [x for x in (e.get("entity") and f"on {e['entity']}", e.get("source") and f"source {e['source']}",
                         e.get("observed_at") and f"observed {e['observed_at']}") if x]
    return (f"  {_v(e.get('fact'))} = {_v(obs)}; expected {_v(e.get('expected'))}"
            + (f"  [{_v(', '.join(where))}]" if where else ""))


def _evidence(r: Result) -> list[str]:
    """The body's evidence lines (every check but those that held, unless not applicable), written from
    the evidence tuples as :func:`_evidence_line` writes ``evidence_dict``'s dicts, each check's own text
    made once."""
    out = []
    skip = r.status == SKIP
    last: tuple[Any, Any, str] = (None, None, "")
    for e in r.evidence:
        if e.__class__ is dict:
            if e.get("ok") is not True or skip:
                out.append(_evidence_line(e))
            continue
        leaf, observed, owner, ok = e
        if ok is True and not skip:
            continue
        head, tail = _check_text(leaf)
        c = observed.__class__
        if c is Missing:
            obs = f"missing ({observed.reason})" if observed.reason else describe(None, VALUE_MAX)
        else:
            obs = describe(observed if c in _SCALARS else jsonable(observed), VALUE_MAX)
        where = ""
        if owner.__class__ is dict:
            steps = leaf.path.steps
            src = evidence_source(owner, steps[-1][0] if steps else None)
            if last[0] is owner and last[1] == src:  # the checks of one result mostly read one entity
                where = last[2]
            else:
                w = [x for x in (owner.get("id") and f"on {owner['id']}", src and f"source {src}",
                                 owner.get("_observed_at") and f"observed {owner['_observed_at']}") if x]
                if w:
                    where = f"  [{_v(', '.join(w))}]"
                last = (owner, src, where)
        out.append(head + _v(obs) + tail + where)
    return out


def _waiver_lines(w: dict[str, Any]) -> list[str]:
    return [f"  reason: {_v(w.get('reason'))}", f"  owner: {_v(w.get('owner'))}",
            f"  expires: {_v(w.get('expires'))}", f"  waiver: {_v(w.get('where'))}"]


_POLICY_TEXT: dict[int, tuple[Policy, str, str, str | None]] = {}  # id of a policy -> (the policy, its body's first line, its remediation line)


def _policy_text(p: Policy) -> tuple[Policy, str, str, str | None]:
    t = _POLICY_TEXT.get(id(p))
    if t is None or t[0] is not p:
        if len(_POLICY_TEXT) > 1000:
            _POLICY_TEXT.clear()
        t = _POLICY_TEXT[id(p)] = (p, f"{_v(p.id)} {_v(p.title)}", f"severity: {p.severity}   target: ",
                                   "remediation: " + _v(" ".join(p.remediation.split())) if p.remediation else None)
    return t


def _body(r: Result, report: Report) -> str:
    p = r.policy
    _, head, sev, remediation = _policy_text(p)
    lines = [head, f"{sev}{_v(r.target_kind)} {_v(r.target_id)}"]
    if r.message:
        lines.append(f"why: {_v(r.message)}")
    if r.status == WAIVED and r.waiver:
        lines.append(f"waived (it was {_v(r.waiver.get('was'))}):")
        lines += _waiver_lines(r.waiver)
    elif r.waiver and r.waiver.get("state") in ("expired", "too_far"):
        what = "expired" if r.waiver["state"] == "expired" else "expires too far ahead and was not applied"
        lines.append(f"a waiver for this result {what}:")
        lines += _waiver_lines(r.waiver)
    if r.baseline:
        lines.append(f"baseline: {r.baseline}")
    if r.target_kind == "source":
        src = next((s for s in report.sources if s.get("name") == r.target_id), None)
        if src:
            lines.append(f"source {_v(src.get('name'))} ({_v(src.get('plugin', '?'))}): {_v(src.get('status'))}: "
                         f"{_v(src.get('error') or 'unknown error')}")
    ev = _evidence(r)
    if ev:
        lines.append("evidence:")
        lines += ev
    if r.status in (FAIL, ERROR) and remediation:
        lines.append(remediation)
    return clean(guard("\n".join(lines)), BODY_MAX)


def _message(r: Result) -> str:
    if r.status == FAIL:
        return one_line(f"[{r.policy.severity}] {r.message or 'policy not met'}")
    if r.status == ERROR:
        return one_line(r.message or "facts could not be collected")
    if r.status == WAIVED:
        w = r.waiver or {}
        return one_line(f"waived: {w.get('reason')} (owner {w.get('owner')}, expires {w.get('expires')})")
    return one_line(r.message or "not applicable")


def _case(r: Result, name: str, report: Report) -> Any:
    from junit_xml import TestCase  # type: ignore[import-untyped]  # junit-xml ships neither stubs nor py.typed

    tc = TestCase(name=clean(name, MESSAGE_MAX), classname=clean(r.policy.id, MESSAGE_MAX))
    if r.status == FAIL:
        tc.add_failure_info(message=_message(r), output=_body(r, report), failure_type=r.policy.severity)
    elif r.status == ERROR:
        tc.add_error_info(message=_message(r), output=_body(r, report),
                          error_type="source-error" if r.target_kind == "source" else "facts-error")
    elif r.status in (SKIP, WAIVED):
        msg = _message(r)
        tc.add_skipped_info(message=msg if r.status == WAIVED else one_line(
            msg if msg.startswith("not applicable") else f"not applicable: {msg}"), output=_body(r, report))
    return tc


def _unique_names(results: Iterable[Result]) -> list[str]:
    """Target ids as case names, made unique within a policy (a source and a target of the same name)."""
    seen: dict[Any, int] = {}
    names = []
    for r in results:
        name = r.target_id if r.target_kind != "source" else f"source {r.target_id}"
        n = seen.get(name, 0)
        seen[name] = n + 1
        names.append(name if n == 0 else f"{name} ({r.target_kind} #{n + 1})")
    return names


def suites(report: Report) -> list[Any]:
    """Every policy's junit-xml TestSuite with all its test cases (the reference the streaming writer is
    tested against; :func:`junit_chunks` writes the same document without holding it)."""
    return [_suite(report, p, results, [_case(r, n, report) for r, n in zip(results, _unique_names(results), strict=True)])
            for p, results in _by_policy(report)]


def _by_policy(report: Report) -> list[tuple[Policy, list[Result]]]:
    """(policy, its results) for every evaluated policy, then any other policy a result names."""
    by_policy: dict[str, tuple[Policy, list[Result]]] = {}
    for r in report.results:
        by_policy.setdefault(r.policy.id, (r.policy, []))[1].append(r)
    known = {p.id for p in report.policies}
    policies = list(report.policies) + [pol for pid, (pol, _) in by_policy.items() if pid not in known]
    return [(p, by_policy.get(p.id, (p, []))[1]) for p in policies]


def _suite(report: Report, p: Policy, results: list[Result], cases: list[Any]) -> Any:
    """junit-xml's TestSuite of one policy: its name, id, timestamp and properties (``cases`` may be
    left empty when the writer streams them)."""
    from junit_xml import TestSuite

    props = {"severity": p.severity, "target": getattr(p, "target", ""), "tags": ", ".join(p.tags or ()),
             "collected_at": report.collected_at, "evaluated_at": report.clock["time"],
             "evaluated_at_source": report.clock["source"]
             + (f" ({report.clock['where']})" if report.clock.get("where") else ""),
             "fail_on": report.fail_on}
    rows = {(r["framework"], r["control"]): r for r in report.controls}
    for fw, ids in sorted((getattr(p, "controls", None) or {}).items()):
        props[f"controls.{fw}"] = ", ".join(ids)
    for fw, ids in sorted((getattr(p, "controls", None) or {}).items()):
        for cid in ids:  # the per-control summary: each control's counts over all policies mapped to it
            r = rows.get((fw, cid))
            if r is not None:
                props[f"control {fw} {cid}"] = (f"pass={r['pass']} fail={r['fail']} error={r['error']} "
                                                f"skip={r['skip']} waived={r['waived']} "
                                                f"policies={','.join(r['policies'])}")
    return TestSuite(name=one_line(f"{p.id} {p.title}"), test_cases=cases, id=clean(p.id),
                     package="policycheck", timestamp=clean(report.generated_at),
                     properties={k: clean(v) for k, v in props.items()})


# ElementTree's own escapers (private: not in the stubs), as its serializer applies them
_escape_attrib: Callable[[str], str] = ET._escape_attrib  # type: ignore[attr-defined]
_escape_cdata: Callable[[str], str] = ET._escape_cdata  # type: ignore[attr-defined]


def _attr(text: str) -> str:
    """An attribute value as ElementTree writes it (the serializer junit-xml's documents go through)."""
    return '"' + _escape_attrib(text) + '"'


def _name_attr(name: str) -> str:
    """``_attr(clean(name, MESSAGE_MAX))``, with a shortcut for the usual plain ASCII host name."""
    if (name.__class__ is str and name.isascii() and name.isprintable() and len(name) <= MESSAGE_MAX
            and "&" not in name and "<" not in name and ">" not in name and '"' not in name):
        return '"' + name + '"'
    return _attr(clean(name, MESSAGE_MAX))


def _case_xml(tc: Any) -> str:
    """One junit-xml TestCase as ``TestSuite.build_xml_doc`` + ``ElementTree.tostring`` write it, for the
    fields this reporter sets (name, classname; failure, error or skipped with message, type and output)."""
    out = ["<testcase name=", _attr(tc.name)]
    if tc.classname:
        out += (" classname=", _attr(tc.classname))
    inner = []
    for tag, items, default in (("failure", tc.failures, "failure"), ("error", tc.errors, "error"),
                                ("skipped", tc.skipped, "skipped")):
        for f in items:
            if tag != "skipped" and not (f["output"] or f["message"]):
                continue
            inner.append(f"<{tag} type=")
            t = f.get("type") if tag != "skipped" else None
            inner.append(_attr(str(t) if t else default))
            if f["message"]:
                inner += (" message=", _attr(str(f["message"])))
            inner.append(">" + _escape_cdata(str(f["output"])) + f"</{tag}>"
                         if f["output"] else " />")
    if not inner:
        out.append(" />")
    else:
        out.append(">")
        out += inner
        out.append("</testcase>")
    return "".join(out)


def junit_chunks(report: Report) -> Iterator[str]:
    """The document in pieces, one <testsuite> at a time, its test cases written as they are made.
    junit-xml's model throughout: each suite's element (name, id, timestamp, properties) is built by its
    ``TestSuite``, each failed, erroneous or skipped case is its ``TestCase``, written as junit-xml's
    ``build_xml_doc`` + ElementTree would write it; a passing case (a name and a classname, nothing else)
    is written directly. The <testsuites> root is written as junit-xml's to_xml_report_string does, less
    its second whole-document cleaning pass (every string was already cleaned by ``clean``), its re-parse
    and re-indent, and the ``disabled`` attribute the Jenkins/Ant XSD rejects. No suite's test cases nor
    the whole document are held at once (tests/test_reports_streaming.py compares it with junit-xml's)."""
    from xml.sax.saxutils import quoteattr

    totals = {"errors": 0, "failures": 0, "tests": len(report.results)}
    for r in report.results:
        if r.status == ERROR:
            totals["errors"] += 1
        elif r.status == FAIL:
            totals["failures"] += 1
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="policycheck" '
           + " ".join(f"{k}={quoteattr(str(v))}" for k, v in totals.items()) + ' time="0">')
    first = True
    for p, results in _by_policy(report):
        counts = {ERROR: 0, FAIL: 0, SKIP: 0}
        for r in results:
            if r.status in counts:
                counts[r.status] += 1
        el = _suite(report, p, results, []).build_xml_doc(encoding="utf-8")
        el.attrib.pop("disabled", None)  # the counts junit-xml takes from the cases, counted here
        el.set("errors", str(counts[ERROR]))
        el.set("failures", str(counts[FAIL]))
        el.set("skipped", str(counts[SKIP] + sum(1 for r in results if r.status == WAIVED)))
        el.set("tests", str(len(results)))
        el.text = "\n  "
        for child in el:
            child.tail = "\n  "
        if len(el) and not results:
            el[-1].tail = "\n "
        el.tail = None
        text = ET.tostring(el, encoding="unicode")
        head = text[:text.rindex("</testsuite>")]
        yield "\n " + head
        cls = " classname=" + _attr(clean(p.id, MESSAGE_MAX)) + " />"
        batch: list[str] = []
        for i, (r, name) in enumerate(zip(results, _unique_names(results), strict=True)):
            if r.status == PASS:
                batch.append("<testcase name=" + _name_attr(name) + cls)
            else:
                batch.append(_case_xml(_case(r, name, report)))
            if len(batch) >= 2000 and i + 1 < len(results):
                yield "\n  ".join(batch) + "\n  "
                batch = []
        yield "\n  ".join(batch) + ("\n " if results else "") + "</testsuite>"
        first = False
    yield ("\n" if not first else "") + "</testsuites>\n"


def render_junit(report: Report) -> str:
    return "".join(junit_chunks(report))


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("junit", render_junit, "xml", "JUnit XML: a suite per policy, a case per target "
                     "(Jenkins, GitLab, GitHub test reporters)", chunks=junit_chunks)]
