"""The ledger of everything submitted over the air: one record per part, one per whole message."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    kind: str  # "part" or "message"
    modem: str
    to: str  # as dialled: "+84..." for an international number
    text: str  # this part's text, or the whole assembled text
    parts: int  # parts of the whole message
    part: int  # 1-based part number; 0 for a whole message
    refs: tuple[int, ...]  # TP-MR of each part, in part order
    concat_ref: int | None  # concatenation reference from the UDH, if any
    reject_duplicates: bool  # TP-RD (for a whole message: of any part)
    status_report: bool  # TP-SRR
    encoding: str  # gsm7, ucs2, 8bit
    time: str  # ISO 8601 with offset, when the (last) part went out

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sent:
        return cls(**{**data, "refs": tuple(data["refs"])})


class Ledger:
    """Thread-safe; appends every record to `path` (JSON lines, flushed per record) if given."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._records: list[Sent] = []
        self._partial: dict[tuple[str, str, int, int], dict[int, Sent]] = {}
        self._path = path

    def record_part(self, part: Sent) -> Sent | None:
        """Record one submitted part; returns the whole message once all its parts are in."""
        with self._lock:
            self._append(part)
            if part.parts <= 1 or part.concat_ref is None:
                whole = _assemble([part])
            else:
                key = (part.modem, part.to, part.concat_ref, part.parts)
                got = self._partial.setdefault(key, {})
                got[part.part] = part
                if len(got) < part.parts:
                    return None
                del self._partial[key]
                whole = _assemble([got[n] for n in sorted(got)])
            self._append(whole)
            return whole

    def _append(self, record: Sent) -> None:
        self._records.append(record)
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as fh:
                fh.write(record.to_json() + "\n")
                fh.flush()

    def records(self, modem: str | None = None, kind: str | None = "message") -> list[Sent]:
        with self._lock:
            return [
                r
                for r in self._records
                if (modem is None or r.modem == modem) and (kind is None or r.kind == kind)
            ]


def _assemble(parts: list[Sent]) -> Sent:
    last = parts[-1]
    return Sent(
        kind="message",
        modem=last.modem,
        to=last.to,
        text="".join(p.text for p in parts),
        parts=len(parts),
        part=0,
        refs=tuple(r for p in parts for r in p.refs),
        concat_ref=last.concat_ref,
        reject_duplicates=any(p.reject_duplicates for p in parts),
        status_report=any(p.status_report for p in parts),
        encoding=last.encoding,
        time=last.time,
    )


def read_ledger(path: Path, modem: str | None = None, kind: str | None = "message") -> list[Sent]:
    """Records from a ledger file (written by a running or dead emulator)."""
    if not path.exists():
        return []
    out: list[Sent] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            record = Sent.from_dict(json.loads(line))
            if (modem is None or record.modem == modem) and (kind is None or record.kind == kind):
                out.append(record)
    return out


def now_iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")
