"""The service index's figures as the store keeps them (see `gateway.core.service_index` for the
rules and `scripts.py` for the scripts that keep them): read per office, per procedure and per
desk of an office, and counted for dossiers stored before them (`hoso province rebuild`).

Invariants:
- Every figure is the sum, over the counted dossiers (those with `received_ms`), of each one's
  share as its current state gives it (`service_index.share_of`): the dossier scripts take away
  the share of the state before and add the share of the state after, in the run that changes
  it, so a counted dossier is never counted twice nor missed.
- Counting a dossier (`count`) is done once (a counted one is skipped), atomically with reading
  its state, and only if its history has not grown since it was read: a rebuild may run while
  dossiers change, and a rebuild then the scripts agree with a recount from scratch.
- A page reads a bounded number of keys (per office: one hash and three counts; per procedure or
  desk of an office, the same), never every dossier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

import redis

from gateway.core.errors import InvalidTime
from gateway.core.service_index import Figures, settled_at_ms, to_ms
from gateway.core.times import parse_time
from gateway.store import history_entries, keys, scripts
from gateway.store.errors import CorruptRecord

OFFICE, PROCEDURE, DESK = "o", "p", "d"
ROWS_A_RUN = 1_000  # rows a script run reads (Redis serves nothing else meanwhile: ~2 ms)


@dataclass(frozen=True, slots=True)
class Row:
    """The figures of one office, procedure or desk: finished ones, and open ones now."""

    name: str
    figures: Figures
    open: int
    overdue: int


@dataclass(frozen=True, slots=True)
class Counted:
    """What a rebuild did: dossiers counted now, counted before, left (no numeric appointment:
    run `hoso notifications reindex` first)."""

    counted: int = 0
    already: int = 0
    left: int = 0

    def __add__(self, other: Counted) -> Counted:
        return Counted(
            self.counted + other.counted, self.already + other.already, self.left + other.left
        )


class ProvinceFigures:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._count = client.register_script(scripts.COUNT_DOSSIER)
        self._figures_of = client.register_script(scripts.FIGURES_OF)

    # -- reading -----------------------------------------------------------------------------

    def offices(self) -> set[str]:
        """The offices with counted dossiers."""
        return {str(o) for o in self._redis.smembers(keys.province_offices())}

    def procedures(self, office: str) -> dict[str, str]:
        """Procedure code -> name, of the office's counted dossiers."""
        raw = self._redis.hgetall(keys.province_procedures(office))
        return {str(k): str(v) for k, v in raw.items()}

    def desks(self, office: str) -> set[str]:
        return {str(d) for d in self._redis.smembers(keys.province_desks(office))}

    def procedures_of(self, offices: list[str]) -> dict[str, dict[str, str]]:
        """Each office's procedures (code -> name), in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for office in offices:
            pipe.hgetall(keys.province_procedures(office))
        return {
            o: {str(k): str(v) for k, v in raw.items()}
            for o, raw in zip(offices, pipe.execute(), strict=True)
        }

    def desks_of(self, offices: list[str]) -> dict[str, set[str]]:
        """Each office's desks, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for office in offices:
            pipe.smembers(keys.province_desks(office))
        return {o: {str(d) for d in raw} for o, raw in zip(offices, pipe.execute(), strict=True)}

    def rows(self, kind: str, office_names: Iterable[tuple[str, str]], now_ms: int) -> list[Row]:
        """The figures of each (office, name) of `kind` (for OFFICE the name is ignored; the
        row is named after the office), in the order given; a script run per `ROWS_A_RUN`."""
        wanted = list(office_names)
        width = len(scripts.FIGURE_FIELDS) + 2
        rows = []
        for start in range(0, len(wanted), ROWS_A_RUN):
            part = wanted[start : start + ROWS_A_RUN]
            args: list[str | int] = [keys.province_prefix(), now_ms]
            for office, name in part:
                args += [kind, office, name]
            values = [int(v) for v in self._figures_of(keys=[], args=args)]
            for i, (office, name) in enumerate(part):
                one = values[i * width : (i + 1) * width]
                figures = Figures(one[0], one[1], one[2], tuple(one[3 : width - 2]))
                rows.append(Row(office if kind == OFFICE else name, figures, one[-2], one[-1]))
        return rows

    def waiting(self, office: str, desk: str, limit: int) -> tuple[list[tuple[str, int]], bool]:
        """The open dossiers waiting at a desk of an office, the earliest due first, at most
        `limit`, as (code, appointment ms); True when there were more."""
        found = cast(
            list[tuple[str, float]],
            self._redis.zrange(keys.province_open(DESK, office, desk), 0, limit, withscores=True),
        )
        rows = [(str(code), int(score)) for code, score in found]
        return rows[:limit], len(rows) > limit

    def open_by_due(self, office: str, until_ms: int | None, limit: int) -> tuple[list[str], bool]:
        """The office's open dossiers by appointment, the earliest first (only those due by
        `until_ms`, when given), at most `limit`; True when there were more: the overdue list
        of one office, as `DossierStore.open_by_due` is the province's."""
        top: int | str = "+inf" if until_ms is None else until_ms
        found = [
            str(c)
            for c in self._redis.zrangebyscore(
                keys.province_open(OFFICE, office), "-inf", top, start=0, num=limit + 1
            )
        ]
        return found[:limit], len(found) > limit

    # -- counting what was stored before -------------------------------------------------------

    def count(self, codes: list[str]) -> Counted:
        """Counts each of `codes` not counted yet (a dossier changed meanwhile is read again)."""
        counted = already = left = 0
        todo = list(codes)
        while todo:
            pipe = self._redis.pipeline(transaction=False)
            for code in todo:
                pipe.hget(keys.dossier(code), "received_at")
                pipe.lrange(keys.history(code), 0, -1)
            answers = pipe.execute()
            again = []
            for i, code in enumerate(todo):
                received_at, entries = answers[2 * i], answers[2 * i + 1]
                if received_at is None:
                    continue
                history = [history_entries.read(e) for e in entries]
                settled = settled_at_ms(history)
                done = self._count(
                    keys=[keys.dossier(code), keys.history(code)],
                    args=[
                        keys.province_prefix(),
                        code,
                        len(entries),
                        _received_ms(code, str(received_at)),
                        "" if settled is None else settled,
                    ],
                )
                if done == 1:
                    counted += 1
                elif done == 2:
                    already += 1
                elif done == -1:
                    again.append(code)
                elif done == -2:
                    left += 1
            todo = again
        return Counted(counted, already, left)

    def forget(self, codes: list[str]) -> None:
        """Marks dossiers as not counted (the first step of a rebuild from scratch, with
        `clear`; only while nothing changes dossiers)."""
        pipe = self._redis.pipeline(transaction=False)
        for code in codes:
            pipe.hdel(keys.dossier(code), "received_ms", "settled_ms")
        pipe.execute()

    def clear(self) -> int:
        """Deletes every figure (a rebuild from scratch, with `forget`); how many keys."""
        deleted = 0
        for batch in _batches(
            cast(Iterator[str], self._redis.scan_iter(match=keys.province_prefix() + "*"))
        ):
            deleted += int(self._redis.unlink(*batch))
        return deleted


def _received_ms(code: str, text: str) -> int:
    try:
        return to_ms(parse_time("received_at", text))
    except InvalidTime as exc:
        raise CorruptRecord(f"dossier {code!r}: {exc}") from exc


def _batches(found: Iterator[str], size: int = 500) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in found:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
