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


class FutureTime(InvalidTime):
    """A reported time (an event's, a registration's, a scan's) further ahead of the gateway's
    clock than the clock-skew allowance: a clock set wrong, or a typo in the year."""

    def __init__(self, field: str, text: str, now: str, allowance_seconds: int) -> None:
        CoreError.__init__(
            self,
            f"{field}: {text} is in the future (the gateway's clock reads {now}; "
            f"at most {allowance_seconds} s ahead is accepted)",
        )
        self.field = field
        self.text = text
        self.now = now
        self.allowance_seconds = allowance_seconds


class InvalidTransition(CoreError):
    def __init__(self, code: str, current: int, new: int) -> None:
        super().__init__(f"dossier {code}: status {current} cannot become {new}")
        self.code = code
        self.current = current
        self.new = new


class InvalidDossier(CoreError):
    """A registration whose fields contradict each other (e.g. due before received)."""
