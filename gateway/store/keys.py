"""Every Redis key hoso uses is built here, and only here."""

from __future__ import annotations

PREFIX = "hoso"


def dossier(code: str) -> str:
    """Hash: the dossier's current state."""
    return f"{PREFIX}:dossier:{code}"


def history(code: str) -> str:
    """List: every event of the dossier, oldest first, append-only (JSON per entry)."""
    return f"{PREFIX}:dossier:{code}:history"


def event_ids(code: str) -> str:
    """Hash: event id -> the answer given for it (idempotency of department events)."""
    return f"{PREFIX}:dossier:{code}:events"


def lookup() -> str:
    """Hash: folded full code or short code -> the dossier's code."""
    return f"{PREFIX}:lookup"


def phone(e164: str) -> str:
    """Set: codes of the dossiers that name this phone."""
    return f"{PREFIX}:phone:{e164}"


def short_counter() -> str:
    """String: the counter short codes are made from."""
    return f"{PREFIX}:counter:short"


def changes() -> str:
    """Stream: every state change, in order; what notifications are made from."""
    return f"{PREFIX}:changes"


def api_key(key_id: str) -> str:
    """Hash: one API credential (kind, owner, sealed secret...)."""
    return f"{PREFIX}:apikey:{key_id}"


def api_keys_of(kind: str, owner: str) -> str:
    """Set: key ids of one department or station."""
    return f"{PREFIX}:apikeys:{kind}:{owner}"


def used_signature(signature: str) -> str:
    """String with a TTL: a signature seen once (replay protection)."""
    return f"{PREFIX}:sig:{signature}"


def idempotency(client: str, key: str) -> str:
    """String with a TTL: the state and answer of one Idempotency-Key of one client."""
    return f"{PREFIX}:idem:{client}:{key}"


def rate(client: str, window: int) -> str:
    """Counter with a TTL: requests of one client in one window."""
    return f"{PREFIX}:rate:{client}:{window}"
