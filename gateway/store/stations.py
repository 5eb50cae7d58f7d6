"""Counter stations' settings in Redis (what a station is, and its rules: `gateway.core.stations`).

`set` is the one operation that sets a station, for the dashboard, the admin API and `hoso
stations set`: the fields checked by the core, then saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import cast

import redis

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.stations import Station, check_station, make_station
from gateway.store import keys


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

    def set(self, fields: Mapping[str, object], office: str = DEFAULT_OFFICE) -> Station:
        """Sets a station of `office` from typed or JSON fields (id, desk, name, status,
        allowed_hours); `InvalidStation` says what is wrong, and nothing is saved then."""
        station = make_station(fields, office)
        self.save(station)
        return station

    def save(self, station: Station) -> None:
        check_station(station)
        self._redis.hset(
            keys.stations(), station.id, json.dumps(asdict(station), ensure_ascii=False)
        )

    def all(self) -> list[Station]:
        raw = cast(dict[str, str], self._redis.hgetall(keys.stations()))
        return [self.get(station_id) for station_id in sorted(raw)]

    def allowed_hours_by_desk(self) -> dict[str, float]:
        return {s.desk: s.allowed_hours for s in self.all() if s.allowed_hours is not None}
