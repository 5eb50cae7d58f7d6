"""Counter stations as the gateway knows them: which desk each one stands for, the status a scan
there implies (if any), and how long a dossier may stay at that desk."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import cast

import redis

from gateway.core.status import Status
from gateway.store import keys


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    desk: str  # where the paper is when it is scanned here ("Phòng Tư pháp")
    name: str = ""
    status: int | None = None  # the status a scan here implies (e.g. 9 at the result counter)
    allowed_hours: float | None = None  # how long a dossier may stay at this desk

    def implied_status(self) -> Status | None:
        return None if self.status is None else Status(self.status)


class Stations:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, station_id: str) -> Station:
        """The station's settings; an unconfigured station stands for a desk named after it."""
        return self.find(station_id) or Station(id=station_id, desk=station_id)

    def find(self, station_id: str) -> Station | None:
        """The station's settings as configured (`save`), None if it never was."""
        raw = self._redis.hget(keys.stations(), station_id)
        if raw is None:
            return None
        data = json.loads(str(raw))
        return Station(id=station_id, **{k: v for k, v in data.items() if k != "id"})

    def save(self, station: Station) -> None:
        if station.status is not None:
            Status(station.status)  # refuse a code that is not a status
        if not station.desk.strip():
            raise ValueError("a station needs a desk")
        self._redis.hset(
            keys.stations(), station.id, json.dumps(asdict(station), ensure_ascii=False)
        )

    def all(self) -> list[Station]:
        raw = cast(dict[str, str], self._redis.hgetall(keys.stations()))
        return [self.get(station_id) for station_id in sorted(raw)]

    def allowed_hours_by_desk(self) -> dict[str, float]:
        return {s.desk: s.allowed_hours for s in self.all() if s.allowed_hours is not None}
