"""The handoff record of a dossier ("Phiếu kiểm soát quá trình giải quyết hồ sơ"): one row per
move of the paper from one desk to another, with who handed it over, who received it, when, and
the time spent at the previous desk against the time allowed there.

Derived from the dossier's history, in the order events happened (`at`), not the order they
were recorded: scans replayed by a station that was offline take their place in the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Handoff:
    from_desk: str | None
    to_desk: str
    handed_over_by: str | None
    received_by: str | None
    at: datetime
    time_at_previous: timedelta | None
    allowed_at_previous: timedelta | None

    @property
    def late(self) -> bool:
        return (
            self.time_at_previous is not None
            and self.allowed_at_previous is not None
            and self.time_at_previous > self.allowed_at_previous
        )


def handoffs(
    history: Iterable[Mapping[str, Any]], allowed_hours: Mapping[str, float]
) -> list[Handoff]:
    entries = sorted(
        (e for e in history if e.get("desk")),
        key=lambda e: datetime.fromisoformat(str(e["at"])),
    )
    rows: list[Handoff] = []
    desk: str | None = None
    since: datetime | None = None
    keeper: str | None = None
    for entry in entries:
        at = datetime.fromisoformat(str(entry["at"]))
        to = str(entry["desk"])
        staff = entry.get("staff")
        if to == desk:
            keeper = staff or keeper  # the same desk again: no move, but who holds it now
            continue
        allowed = allowed_hours.get(desk) if desk is not None else None
        rows.append(
            Handoff(
                from_desk=desk,
                to_desk=to,
                handed_over_by=keeper,
                received_by=staff,
                at=at,
                time_at_previous=None if since is None else at - since,
                allowed_at_previous=None if allowed is None else timedelta(hours=allowed),
            )
        )
        desk, since, keeper = to, at, staff
    return rows
