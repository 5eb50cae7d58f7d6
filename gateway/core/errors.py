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


class InvalidTransition(CoreError):
    def __init__(self, code: str, current: int, new: int) -> None:
        super().__init__(f"dossier {code}: status {current} cannot become {new}")
        self.code = code
        self.current = current
        self.new = new


class InvalidDossier(CoreError):
    """A registration whose fields contradict each other (e.g. due before received)."""
