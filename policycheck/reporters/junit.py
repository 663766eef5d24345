"""The ``junit`` format: one <testsuite> per policy, one <testcase> per target (classname = policy id,
name = target id); fail → <failure>, error → <error>, not applicable and waived → <skipped>."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.conditions import QuantLeaf
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
    if not s.isprintable():  # every character either pattern rewrites is unprintable: the usual text skips both
        s = (_ILLEGAL_ASCII if s.isascii() else _ILLEGAL).sub(_escape, s)
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    return s


def one_line(text: object, limit: int = MESSAGE_MAX) -> str:
    s = str(text)
    if s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " ":
        # already one clean line with single spaces (a printable string's only whitespace is the space)
        return s if len(s) <= limit else s[:limit - 1] + "…"
    return clean(" ".join(s.split()), limit)


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


def _describe(value: Any) -> str:
    """``describe(value, VALUE_MAX)``, inline for the usual values: a string, and JSON's text of null,
    a boolean, an integer and the empty list (describe makes a JSON encoder for each)."""
    c = value.__class__
    if c is str:
        s: str = value
        return s if len(s) <= VALUE_MAX else s[:VALUE_MAX - 1] + "…"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if c is int:
        s = repr(value)
        return s if len(s) <= VALUE_MAX else s[:VALUE_MAX - 1] + "…"
    if c is list and not value:
        return "[]"
    return describe(value, VALUE_MAX)


def _evidence_line(e: dict[str, Any]) -> str:
    obs = f"missing ({e['missing']})" if e.get("missing") else _describe(e.get("observed"))
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
            obs = _describe(observed if c in _SCALARS else jsonable(observed))
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
    last: Policy | None = None
    results: list[Result] = []
    for r in report.results:
        if r.policy is not last:  # a policy's results mostly come one after the other
            last = r.policy
            results = by_policy.setdefault(last.id, (last, []))[1]
        results.append(r)
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


def _text(value: object) -> str:
    """``clean(_v(value))``, the form of a value inside a body written by the streaming writer. Every
    character ``line`` or ``clean`` rewrites is unprintable, so a printable string is already both (the
    usual case: one C-level check instead of two regular expressions); both rewrite character by
    character, so cleaning each value gives what cleaning the whole body gave."""
    s = "" if value is None else str(value)
    return s if s.isprintable() else clean(line(s))


class _PolicyText:
    """One policy's constant parts of its cases, made once per suite: the body's first line, severity
    prefix and remediation line (cleaned), the classname attribute and a failure's type and message prefix."""

    __slots__ = ("head", "sev", "remediation", "cls", "pass_cls", "fail_type", "fail_prefix", "may_command",
                 "targets")

    def __init__(self, p: Policy) -> None:
        _, head, sev, remediation = _policy_text(p)
        self.head, self.sev = clean(head), clean(sev)
        self.remediation = clean(remediation) if remediation else None
        classname = clean(p.id, MESSAGE_MAX)
        self.pass_cls = " classname=" + _attr(classname) + " />"
        self.cls = " classname=" + _attr(classname) if classname else ""  # as _case_xml: none when empty
        self.fail_type = _attr(str(p.severity) if p.severity else "failure")
        self.fail_prefix = f"[{p.severity}] "
        self.may_command = _may_command(self.head)
        self.targets: dict[str, str] = {}  # a target kind -> the body's target line up to the target's id


_ERROR_TYPE = _attr("facts-error")
_SKIP_TYPE = _attr("skipped")


def _may_command(text: str) -> bool:
    """Whether a line beginning with ``text`` may be one :func:`guard` rewrites. A command start ("::",
    "##[" or "##vso[" after spaces or tabs) lies within ``text`` when ``text`` is a whole line or ends
    with a character none of those hold (an evidence line's head ends with " = "): a ``text`` without
    "::" and "##" starts no command, and the body's other lines begin with words written here."""
    return "::" in text or "##" in text


class _Checks:
    """Each check's (fact, expected) text as a body shows it, cleaned, the attribute its whereabouts
    are looked up by, and whether its line may start like a CI command; made once per document. Keyed
    by the check's id (every check is held by the report's evidence while the document is written), a
    quantifier's by its path, operator and field: the evaluation makes one of those per target."""

    __slots__ = ("texts",)

    def __init__(self) -> None:
        self.texts: dict[Any, tuple[str, str, str | None, bool]] = {}

    def get(self, leaf: Any) -> tuple[str, str, str | None, bool]:
        key = id(leaf) if leaf.__class__ is not QuantLeaf else (id(leaf.path), leaf.op, leaf.shown)
        t = self.texts.get(key)
        if t is None:
            steps = leaf.path.steps
            head = clean(f"  {_v(leaf.path.text)} = ")
            t = self.texts[key] = (head, clean(f"; expected {_v(leaf.expected_text())}"),
                                   steps[-1][0] if steps else None, _may_command(head))
        return t


def _where(owner: dict[str, Any], src: str | None) -> str:
    """The whereabouts an evidence line ends with (as :func:`_evidence` writes them), cleaned."""
    oid, at = owner.get("id"), owner.get("_observed_at")
    if oid and src and at:
        inner = f"on {oid}, source {src}, observed {at}"
    else:
        inner = ", ".join([x for x in (oid and f"on {oid}", src and f"source {src}", at and f"observed {at}") if x])
        if not inner:
            return ""
    return "  [" + _text(inner) + "]"


def _fast_evidence(r: Result, checks: _Checks, out: list[str]) -> bool:
    """:func:`_evidence`'s lines appended to ``out``, each cleaned (as :func:`_text` does: a line's
    cleaning is its values'). True when a line may start like a CI command (the first characters of
    a line are its check's fact: known per check)."""
    skip = r.status == SKIP
    texts = checks.texts
    may_command = False
    last_owner: Any = None
    last_attr: str | None = None
    last_src: str | None = None
    where = ""
    for e in r.evidence:
        if e.__class__ is dict:  # context facts, merged reports
            if e.get("ok") is not True or skip:
                text = clean(_evidence_line(e))
                may_command = may_command or _may_command(text)
                out.append(text)
            continue
        leaf, observed, owner, ok = e
        if ok is True and not skip:
            continue
        t = texts.get(id(leaf))  # a check's text, inline for the usual one already made
        head, tail, attr, cmd = t if t is not None else checks.get(leaf)
        may_command = may_command or cmd
        c = observed.__class__
        if c is str:  # the usual value, inline
            obs = observed if len(observed) <= VALUE_MAX else observed[:VALUE_MAX - 1] + "…"
        elif c is Missing:
            obs = f"missing ({observed.reason})" if observed.reason else "null"
        else:
            obs = _describe(observed if c in _SCALARS else jsonable(observed))
        if not obs.isprintable():
            obs = clean(line(obs))
        if owner.__class__ is not dict:
            out.append(head + obs + tail)
            continue
        if owner is not last_owner or attr != last_attr:  # the checks of one result mostly read one entity
            src = evidence_source(owner, attr)
            if owner is not last_owner or src != last_src:
                where = _where(owner, src)
            last_owner, last_attr, last_src = owner, attr, src
        out.append(head + obs + tail + where)
    return may_command


def _fast_case(r: Result, name_attr: str, pt: _PolicyText, checks: _Checks) -> str | None:
    """``_case_xml(_case(r, name, report))`` for a failed, erroneous or not-applicable result without a
    waiver, on a target that is not a source: the same text, made from the policy's and each check's
    cleaned parts (so the body needs no cleaning pass of its own) and escaped by ElementTree's own
    escapers. None for any other result (:func:`_case` writes it)."""
    status = r.status
    if r.waiver or r.target_kind == "source" or (status != FAIL and status != ERROR and status != SKIP):
        return None
    baseline = r.baseline
    if baseline and not (baseline.__class__ is str and baseline.isprintable()):
        return None
    kind, tid, message = r.target_kind, r.target_id, r.message
    head = pt.targets.get(kind)
    if head is None:
        head = pt.targets[kind] = pt.sev + _text(kind) + " "
    lines = [pt.head, head + (tid if tid.__class__ is str and tid.isprintable() else _text(tid))]
    if message:
        lines.append("why: " + _text(message))
    if baseline:
        lines.append("baseline: " + baseline)
    n = len(lines)
    may_command = _fast_evidence(r, checks, lines) or pt.may_command
    if len(lines) > n:
        lines.insert(n, "evidence:")
    if status == FAIL:
        tag, type_attr = "failure", pt.fail_type
        msg = one_line(pt.fail_prefix + (message or "policy not met"))
    elif status == ERROR:
        tag, type_attr = "error", _ERROR_TYPE
        msg = one_line(message or "facts could not be collected")
    else:
        tag, type_attr = "skipped", _SKIP_TYPE
        msg = one_line(message or "not applicable")
        if not msg.startswith("not applicable"):
            msg = one_line(f"not applicable: {msg}")
    if status != SKIP and pt.remediation:
        lines.append(pt.remediation)
    body = "\n".join(lines)
    if may_command:  # only the first line and the evidence lines start with text not written here
        body = guard(body)
    if len(body) > BODY_MAX:
        body = body[:BODY_MAX - 1] + "…"
    msg_attr = ' message="' + _escape_attrib(msg) + '"' if msg else ""
    return f"<testcase name={name_attr}{pt.cls}><{tag} type={type_attr}{msg_attr}>{_escape_cdata(body)}</{tag}></testcase>"


class _Names:
    """Each suite's case names (:func:`_unique_names`) and whether all are plain (:func:`_plain`). When
    no two targets share a name (the usual case) the names are the targets' own; those of the last
    such suite of each size are kept, so a suite over the same targets (every policy on clients has a
    case per client, in the same order) costs one list comparison instead of both checks."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: dict[int, tuple[list[str], bool]] = {}

    def of(self, results: list[Result]) -> tuple[list[str], bool]:
        names = [r.target_id if r.target_kind != "source" else f"source {r.target_id}" for r in results]
        seen = self.seen.get(len(names))
        if seen is not None and seen[0] == names:
            return names, seen[1]
        if len(set(names)) != len(names):
            names = _unique_names(results)
            return names, _plain(names)
        plain = _plain(names)
        self.seen[len(names)] = (names, plain)
        return names, plain


def _plain(names: list[str]) -> bool:
    """True when every name is written as it is, between quotes (``_name_attr`` is ``'"' + name + '"'``):
    printable, no character an attribute escapes, none longer than MESSAGE_MAX. One check over all
    of a suite's names at once."""
    try:
        joined = "".join(names)
    except TypeError:
        return False
    return (joined.isprintable() and "&" not in joined and "<" not in joined and ">" not in joined
            and '"' not in joined and (not names or max(map(len, names)) <= MESSAGE_MAX))


def _suite_cases(report: Report, p: Policy, results: list[Result], statuses: list[str], checks: _Checks,
                 case_names: _Names) -> Iterator[str]:
    """One suite's test cases, each after its indentation (the first's ends the suite's head), and its
    end tag, in pieces of about ``_CASES_PER_CHUNK`` cases. Passing cases (a name and a classname) are
    written a run at a time with one join; the others by :func:`_fast_case`, or as junit-xml's
    TestCase (:func:`_case`)."""
    pt = _PolicyText(p)
    names, plain = case_names.of(results)
    if plain:
        vals, open_ = names, '<testcase name="'
        close = '"' + pt.pass_cls
    else:
        vals, open_, close = [_name_attr(n) for n in names], "<testcase name=", pt.pass_cls
    sep = close + "\n  " + open_
    others = [i for i, s in enumerate(statuses) if s != PASS]
    others.append(len(results))
    # a piece is its cases joined by their indentation; a piece after the first starts with one ("")
    batch: list[str] = []
    n = start = 0
    for i in others:
        while start < i:  # the passing cases before this one, a run at a time
            stop = min(i, start + _CASES_PER_CHUNK)
            batch.append(open_ + sep.join(vals[start:stop]) + close)
            n += stop - start
            start = stop
            if n >= _CASES_PER_CHUNK:
                yield "\n  ".join(batch)
                batch, n = [""], 0
        if i == len(results):
            break
        r = results[i]
        name_attr = '"' + names[i] + '"' if vals is names else vals[i]
        batch.append(_fast_case(r, name_attr, pt, checks) or _case_xml(_case(r, names[i], report)))
        n += 1
        start = i + 1
        if n >= _CASES_PER_CHUNK:
            yield "\n  ".join(batch)
            batch, n = [""], 0
    yield "\n  ".join(batch) + ("\n </testsuite>" if results else "</testsuite>")


_CASES_PER_CHUNK = 2000


def junit_chunks(report: Report) -> Iterator[str]:
    """The document in pieces, one <testsuite> at a time, its test cases written as they are made.
    junit-xml's model throughout: each suite's element (name, id, timestamp, properties) is built by its
    ``TestSuite``; each case is written as junit-xml's ``TestCase`` of :func:`_case` comes out of
    ``build_xml_doc`` + ElementTree, with ElementTree's own escapers: a passing case (a name and a
    classname) directly, a failed, erroneous or not-applicable one by :func:`_fast_case` from the same
    parts, any other (waived, a source) through its ``TestCase`` (tests/test_gate_junit.py checks the
    direct ones against those byte for byte). The <testsuites> root is written as junit-xml's
    to_xml_report_string does, less its second whole-document cleaning pass (every string was already
    cleaned by ``clean``), its re-parse and re-indent, and the ``disabled`` attribute the Jenkins/Ant
    XSD rejects. No suite's test cases nor the whole document are held at once
    (tests/test_reports_streaming.py compares it with junit-xml's)."""
    from xml.sax.saxutils import quoteattr

    statuses = [r.status for r in report.results]
    totals = {"errors": statuses.count(ERROR), "failures": statuses.count(FAIL), "tests": len(statuses)}
    del statuses
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="policycheck" '
           + " ".join(f"{k}={quoteattr(str(v))}" for k, v in totals.items()) + ' time="0">')
    first = True
    checks, case_names = _Checks(), _Names()
    for p, results in _by_policy(report):
        statuses = [r.status for r in results]
        el = _suite(report, p, results, []).build_xml_doc(encoding="utf-8")
        el.attrib.pop("disabled", None)  # the counts junit-xml takes from the cases, counted here
        el.set("errors", str(statuses.count(ERROR)))
        el.set("failures", str(statuses.count(FAIL)))
        el.set("skipped", str(statuses.count(SKIP) + statuses.count(WAIVED)))
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
        yield from _suite_cases(report, p, results, statuses, checks, case_names)
        first = False
    yield ("\n" if not first else "") + "</testsuites>\n"


def render_junit(report: Report) -> str:
    return "".join(junit_chunks(report))


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("junit", render_junit, "xml", "JUnit XML: a suite per policy, a case per target "
                     "(Jenkins, GitLab, GitHub test reporters)", chunks=junit_chunks)]
