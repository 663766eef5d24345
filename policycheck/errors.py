"""The error model: one root exception for every error a user can cause, and every exit code."""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code policycheck ends with (docs/exit-codes.md; a test walks this against the doc)."""

    OK = 0  #: the gate passes (or --soft-fail); a command that did its job
    FINDINGS = 1  #: at least one failure at or above --fail-on; what-if: a passing result would break
    INVALID_INPUT = 2  #: nothing was evaluated: an invalid invocation, config, policy, facts, waiver or baseline
    SOURCE_ERROR = 3  #: no gating failure, but results in error (a fact missing, a source failed), or a stale waiver
    RESTORE_REFUSED = 4  #: guard refused the restore and did not run its command
    INTERNAL_ERROR = 70  #: a crash inside policycheck (a bug: please report it), never a verdict
    COMMAND_NOT_EXECUTABLE = 126  #: guard: the restore command exists but cannot be run
    COMMAND_NOT_FOUND = 127  #: guard: the restore command does not exist
    INTERRUPTED = 130  #: stopped by Ctrl-C (SIGINT)


class PolicycheckError(Exception):
    """Every error a user can cause (an input, an invocation, a source): the CLI prints its message,
    located where possible, and exits with ``exit_code``; anything else that escapes is a bug."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT


class UsageError(PolicycheckError, ValueError):
    """A mistake in the invocation (options, names on the command line): nothing was evaluated."""


class ConfigError(PolicycheckError, ValueError):
    """A config problem, located: ``file:line:col: message``."""


class PolicyError(PolicycheckError, ValueError):
    """A policy (or policy test file) that cannot be loaded, compiled or parameterised."""


class WaiverError(PolicycheckError, ValueError):
    """An invalid waiver file (located: ``file:line:col: message``)."""


class FactsInputError(PolicycheckError, ValueError):
    """A facts snapshot, baseline or report given as input that is not usable, with what is wrong."""


class SourceError(PolicycheckError):
    """A source that cannot be read: its message becomes the source's reason (secrets redacted) and
    every result depending on its facts becomes ``error``."""

    exit_code = ExitCode.SOURCE_ERROR
