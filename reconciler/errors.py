"""The error tree, grouped by what the user must do.

Every error a user can hit is a :class:`ReconcilerError` whose message is one or more whole
sentences naming the thing at fault (``path:line``, customer id, lock holder,
MS-CorrelationId). The CLI prints the message and exits 1; it never shows a traceback unless
asked to with ``-vv``.
"""

from __future__ import annotations

from reconciler.words import plural


class ReconcilerError(Exception):
    """Base of every error the CLI turns into a message and exit code 1."""

    #: What the user should do next, in a few words (shown after the message).
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(ReconcilerError):
    """A bad option value or combination: fix the command line."""


class ConfigError(ReconcilerError):
    """The settings file or environment is wrong: fix the configuration."""


class ManifestError(ReconcilerError):
    """One or more manifests are invalid: fix the manifests.

    ``problems`` holds every problem as ``path:line:column: message`` so that all of them can be
    shown at once, not just the first.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        counted = plural(len(self.problems), "problem")
        super().__init__(f"The manifests have {counted}:\n" + "\n".join(self.problems))


class StateError(ReconcilerError):
    """Recorded state is unreadable, corrupt or from a newer version: restore or upgrade."""


class LockError(ReconcilerError):
    """The state is locked by someone else: wait, or force-unlock a dead holder's lock."""


class PlanError(ReconcilerError):
    """A saved plan cannot be used (stale, changed manifests, too old): re-run plan."""


class CredentialsError(ReconcilerError):
    """Credentials are missing or consent has expired: set them up or re-consent."""


class RemoteError(ReconcilerError):
    """Partner Center refused or failed a call in a way that stops the run."""
