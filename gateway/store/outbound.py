"""An outbound SMS as the outbox stores it (a hash) and as its sender reads it back."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.core.messages import Priority, SmsState
from gateway.core.sms_lifecycle import SmsFacts


@dataclass(frozen=True, slots=True)
class Outbound:
    """An SMS as its modem's owner (or carrier link) sees it."""

    id: str
    to: str
    text: str
    priority: Priority
    state: SmsState
    modem: str
    attempts: int
    parts: int  # 0 until the owner has encoded it
    next_part: int  # parts before this one are submitted
    refs: tuple[int | str | None, ...]
    concat_ref: int | None
    resent: bool
    via: str
    fields: dict[str, str]

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Outbound:
        return cls(
            id=raw["id"],
            to=raw["to"],
            text=raw["text"],
            priority=Priority(int(raw["priority"])),
            state=SmsState(raw["state"]),
            modem=raw.get("modem", ""),
            attempts=int(raw.get("attempts", "0")),
            parts=int(raw.get("parts", "0")),
            next_part=int(raw.get("next_part", "0")),
            refs=tuple(json.loads(raw.get("refs", "[]"))),
            concat_ref=int(raw["concat_ref"]) if raw.get("concat_ref") else None,
            resent=raw.get("resent") == "1",
            via=raw.get("via", ""),
            fields=raw,
        )

    @property
    def concat_reference(self) -> int:
        """The reference its parts carry: the one recorded when it was split, else its id's
        (resends must carry the reference of the first try)."""
        return self.concat_ref if self.concat_ref is not None else int(self.id) % 256

    @property
    def facts(self) -> SmsFacts:
        """What the state machine (`gateway.core.sms_lifecycle`) reads of it."""
        reports = json.loads(self.fields.get("reports") or "[]")
        return SmsFacts(
            self.state,
            self.parts,
            self.next_part,
            self.attempts,
            tuple(None if r is None else SmsState(r) for r in reports),
        )


@dataclass(frozen=True, slots=True)
class UnknownFate:
    """A part that was being handed to the modem when its owner died."""

    sms: Outbound
    part: int
    expected_ref: int | None  # the TP-MR it should have had (a guess: the modem's next one)
    since_ms: int = 0  # when it was being handed over
