"""SMS parts a crash left in doubt, waiting a bounded time for the status report that proves they
went out (the owner of the modem resends only what no report confirms).

A part is in doubt when its owner died between saving it as `submitting` and saving the `+CMGS`
answer: it may or may not have reached the network. If it did, its status report comes back:
stored on the modem while nobody listened, or a little later. The report names the part's TP-MR
and recipient; the MR was never saved (the kill came before or just after `+CMGS:` was read), so a
report is matched by:

1. the recipient (last 9 digits, as `gateway.core.messages.report_number`), and
2. the MR the part should have had (the modem's next after the last one saved), or an MR the
   modem answered late to the restarted service (`Device.stray_refs`), or else
3. the time: the SMSC took it (TP-SCTS) no earlier than the part was being handed over, less a
   clock allowance.

Only reports that matched no recorded part are offered here (`Owner.apply_reports`). A modem
sends one part at a time, so at most one part per modem is in doubt after a crash: the match is
not ambiguous in practice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from gateway.core.messages import report_number
from gateway.core.times import from_micros
from gateway.store.outbound import UnknownFate
from modem.device_types import StatusReport

log = logging.getLogger(__name__)

CLOCK_ALLOWANCE = timedelta(minutes=5)  # the SMSC's clock against ours


@dataclass
class Doubt:
    fate: UnknownFate
    deadline: float  # monotonic seconds: resend if no report by then


class InDoubt:
    def __init__(self) -> None:
        self._doubts: dict[tuple[str, int], Doubt] = {}

    def __bool__(self) -> bool:
        return bool(self._doubts)

    def __len__(self) -> int:
        return len(self._doubts)

    def add(self, fate: UnknownFate, deadline: float) -> None:
        """A part to wait for; a part already waiting keeps its deadline (a reconnect)."""
        self._doubts.setdefault((fate.sms.id, fate.part), Doubt(fate, deadline))

    def match(self, report: StatusReport, late_refs: Collection[int] = ()) -> Doubt | None:
        """The part in doubt this report (matching no recorded part) is for, taken off the
        list; None if it is for none of them."""
        number = report_number(report.recipient)
        candidates = [d for d in self._doubts.values() if report_number(d.fate.sms.to) == number]
        by_ref = [
            d
            for d in candidates
            if report.reference == d.fate.expected_ref or report.reference in late_refs
        ]
        by_time = [d for d in candidates if _after(report, d.fate)]
        found = by_ref[0] if by_ref else by_time[0] if by_time else None
        if found is not None:
            del self._doubts[(found.fate.sms.id, found.fate.part)]
        return found

    def expired(self, now: float) -> list[Doubt]:
        """Parts whose wait is over, taken off the list."""
        due = [d for d in self._doubts.values() if d.deadline <= now]
        for d in due:
            del self._doubts[(d.fate.sms.id, d.fate.part)]
        return due


def _after(report: StatusReport, fate: UnknownFate) -> bool:
    if report.submitted is None or not fate.since_ms:
        return True  # nothing to compare: the recipient alone (one part in doubt per modem)
    since = from_micros(fate.since_ms * 1000)
    return report.submitted >= since - CLOCK_ALLOWANCE
