"""Errors of the domain core: each names a fact."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the pure core raises."""


class InvalidCode(CoreError):
    def __init__(self, text: str) -> None:
        super().__init__(f"not a dossier code: {text!r}")
        self.text = text


class InvalidPhone(CoreError):
    def __init__(self, text: str) -> None:
        super().__init__(f"not a phone number: {text!r}")
        self.text = text


class InvalidTime(CoreError):
    def __init__(self, field: str, text: str) -> None:
        super().__init__(f"{field}: not an ISO 8601 time with an offset: {text!r}")
        self.field = field
        self.text = text


class TimeInFuture(CoreError):
    """A time later than the server's clock by more than the clock-skew allowance."""

    def __init__(self, field: str, text: str, now: str, skew_seconds: int) -> None:
        super().__init__(
            f"{field}: {text} is more than {skew_seconds} s after the server's time {now}"
            " (is the sender's clock right?)"
        )
        self.field = field
        self.text = text
        self.now = now
        self.skew_seconds = skew_seconds


class InvalidTransition(CoreError):
    def __init__(self, code: str, current: int, new: int) -> None:
        super().__init__(f"dossier {code}: status {current} cannot become {new}")
        self.code = code
        self.current = current
        self.new = new


class InvalidDossier(CoreError):
    """A registration whose fields contradict each other (e.g. due before received)."""
