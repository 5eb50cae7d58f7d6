"""Errors of the store: facts about stored state, translated from Redis where needed."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors."""


class UnknownDossier(StoreError):
    """No such dossier, or not one the caller may see (the two are never told apart)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown dossier: {code}")
        self.code = code


class DossierConflict(StoreError):
    """The code is taken by a registration that says something else."""

    def __init__(self, code: str) -> None:
        super().__init__(f"dossier {code} is already registered with other details")
        self.code = code


class EventConflict(StoreError):
    """The event id was already used for another event on this dossier."""

    def __init__(self, code: str, event_id: str) -> None:
        super().__init__(f"dossier {code}: event id {event_id!r} was used for another event")
        self.code = code
        self.event_id = event_id


class CorruptRecord(StoreError):
    """A stored record that cannot be read back: never expected, always logged."""


class ShortCodesExhausted(StoreError):
    """Every random short code drawn for a new dossier was taken: the space is nearly full."""

    def __init__(self, draws: int) -> None:
        super().__init__(f"no free short code in {draws} random draws")
        self.draws = draws
