"""The types a plugin hands to the core: Collector, CollectContext, CollectorError, Reporter, Derivation."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policycheck.errors import SourceError

if TYPE_CHECKING:
    from policycheck.kit.http import HttpClient
    from policycheck.results import Report

#: a source's settings (its config block, validated and with secrets resolved) and a facts fragment
Settings = dict[str, Any]
Fragment = dict[str, Any]
#: ``check(settings, base_dir)``: each problem as (json path inside the source's block, message)
SettingsProblems = Iterable[tuple[Sequence[str | int], str]]


class CollectorError(SourceError):
    """Raised by a collector when its source cannot be read; the message becomes the source's
    reason (after secret redaction), and every result depending on its facts becomes ``error``."""


@dataclass
class Collector:
    """A named way to gather facts from one kind of source.

    ``collect(settings, ctx)`` returns a *fragment*: ``{"entities": {kind: [entity, ...]}}``
    where each entity is a dict with an ``id`` and attributes as documented in docs/facts.md.
    ``settings`` is the source's config block after validation against ``config_schema``
    and secret resolution. ``kinds`` lists the entity kinds the collector can provide: if the
    source fails, every policy touching one of them reports ``error`` rather than a pass.
    """

    name: str
    collect: Callable[[Settings, CollectContext], Fragment]
    config_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    kinds: tuple[str, ...] = ()
    description: str = ""
    secret_keys: tuple[str, ...] = ("password", "token", "api_key", "secret")
    #: optional ``check(settings, base_dir) -> [(json_path_tuple, problem)]``: mistakes in the settings
    #: that can be seen without contacting the source (a facts file that does not exist); each one is a
    #: configuration error (exit 2), reported before any source is contacted
    check: Callable[[Settings, str], SettingsProblems] | None = None
    # attributes this collector adds beyond docs/facts.md, {kind: [name, ...]}: `policies validate`
    # accepts policies reading them (attributes prefixed with the plugin's name are accepted anyway)
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class CollectContext:
    """What the runtime gives a collector: its source name, time budget and helpers."""

    source: str
    timeout: float
    base_dir: str = "."
    secrets: list[str] = field(default_factory=list)
    log: Callable[[str], None] | None = None
    progress: Callable[[int], None] = lambda count: None
    deadline: float | None = None  # time.monotonic() by which collect() must return
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.log is None:
            self.log = self.warn

    def warn(self, message: str) -> None:
        """A warning for the user (printed by the CLI after collection, secrets redacted)."""
        self.warnings.append(self.redact(message))

    def http(self, base_url: str, **kwargs: Any) -> HttpClient:
        """A :class:`policycheck.kit.http.HttpClient` for this source (retries, TLS, redaction)."""
        from policycheck.kit.http import HttpClient

        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("deadline", self.deadline)
        kwargs.setdefault("warn", self.log)
        return HttpClient(base_url, secrets=self.secrets, **kwargs)

    def redact(self, text: str) -> str:
        """``text`` with every secret of this source replaced by ``***``."""
        from policycheck.secrets import redact

        return redact(text, self.secrets)


@dataclass
class Reporter:
    """An output format: ``render(report) -> str`` where report is a :class:`policycheck.results.Report`."""

    name: str
    render: Callable[[Report], str]
    extension: str = "txt"
    description: str = ""
    #: optional ``chunks(report) -> iterable of str``: the same text in pieces, so a large report is
    #: written to its file without ever being held whole (``render`` is then ``"".join(chunks(report))``)
    chunks: Callable[[Report], Iterable[str]] | None = None


from policycheck.derivations import Derivation  # noqa: E402  (re-exported for plugins)

__all__ = ["CollectContext", "Collector", "CollectorError", "Derivation", "Reporter"]
