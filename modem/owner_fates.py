"""A modem's owner settling fates: status reports applied to their parts, and the parts a crash
left in doubt.

Invariants: a report is applied to the part its TP-MR and recipient name, then deleted from the
modem; one that names no recorded part may confirm a part in doubt (modem/in_doubt.py), whose SMS
then goes on from its next part; a part in doubt no report confirmed in time is sent again once,
with TP-Reject-Duplicates; a part already sent again once is taken as sent rather than risked a
third time, unless this modem's network is known to send reports (`reports_alive`).
"""

from __future__ import annotations

import logging
import time

from gateway.core.messages import SmsState, reports_alive
from gateway.core.times import to_micros
from gateway.store.outbound import Outbound, UnknownFate
from modem.device import StatusReport
from modem.owner_base import OwnerBase

log = logging.getLogger(__name__)


def replace_fate(fate: UnknownFate, sms: Outbound) -> UnknownFate:
    return UnknownFate(sms, fate.part, fate.expected_ref, fate.since_ms)


class Fates(OwnerBase):
    def apply_reports(self, reports: list[StatusReport]) -> None:
        """Applies each report to its part, deletes it from the modem; a report that matches no
        recorded part may settle a part a crash left in doubt (modem/in_doubt.py)."""
        assert self.device is not None
        now_ms = to_micros(self.clock()) // 1000
        confirmed: list[UnknownFate] = []
        for report in reports:
            applied = self._apply(report, now_ms)
            if applied is None and self.in_doubt:
                doubt = self.in_doubt.match(report, self.device.stray_refs)
                if doubt is not None:
                    self._confirm(doubt.fate, report.reference, "report")
                    confirmed.append(doubt.fate)
                    applied = self._apply(report, now_ms)
            log.info(
                "sms.report modem=%s ref=%s status=%s sms=%s",
                self.settings.id,
                report.reference,
                report.status,
                applied[0] if applied else "unknown",
            )
            if report.index is not None:
                self.device.delete_report(report)
        for fate in confirmed:  # the rest of a multipart SMS whose part in doubt went out
            self._continue(fate.sms.id)

    def _apply(self, report: StatusReport, now_ms: int) -> tuple[str, SmsState] | None:
        return self.outbox.delivery_report(
            self.settings.id,
            report.reference,
            report.recipient,
            report.delivered,
            report.final,
            now_ms,
            report.status,
        )

    def recover(self) -> None:
        """At connect: parts a crash left in doubt wait (bounded) for the status report that
        confirms them; SMS claimed but not started go back to their queue (Outbox.recover)."""
        assert self.device is not None
        modem = self.settings.id
        now_ms = to_micros(self.clock()) // 1000
        if self.status.last_ref is None:
            self.status.last_ref = self.outbox.last_reference(modem)
        unknown = self.outbox.recover(modem, now_ms)
        wait = self.pool.report_wait_seconds
        for fate in unknown:
            if self.device.reports == "none" or wait <= 0:
                self._settle_without_report(fate)
            else:
                log.info(
                    "sms.fate_waiting modem=%s id=%s part=%d seconds=%d",
                    *(modem, fate.sms.id, fate.part, wait),
                )
                self.in_doubt.add(fate, time.monotonic() + wait)
        if self.in_doubt:
            self.apply_reports(self.device.status_reports())
            self.status.last_reports = time.monotonic()

    def settle_expired(self) -> None:
        """Parts in doubt whose wait is over: no report confirmed them, send them again. A part
        already resent once is sent again only while this modem's reports are known to come
        (a report in the last `messages.REPORTS_ALIVE_MS`): if the network sends none, the silence
        proves nothing, and a third copy is never risked."""
        for doubt in self.in_doubt.expired(time.monotonic()):
            fate = doubt.fate
            current = self.outbox.get(fate.sms.id) or fate.sms
            last_report = self.outbox.last_report_ms(self.settings.id)
            if current.resent and not reports_alive(last_report, self._now_ms()):
                self._settle_without_report(replace_fate(fate, current))
                continue
            log.warning(
                "sms.resend_unknown modem=%s id=%s part=%d reason=no-report",
                *(self.settings.id, fate.sms.id, fate.part),
            )
            self.send(current, start=fate.part, resend_first=True, expected_ref=fate.expected_ref)

    def _settle_without_report(self, fate: UnknownFate) -> None:
        """A modem without status reports: resend once; a part already resent once is taken as
        sent (never a third copy: without reports nothing tells which copy went out)."""
        sms = fate.sms
        if sms.resent:
            self._confirm(fate, fate.expected_ref or 0, "earlier-resend")
            self._continue(sms.id)
            return
        log.warning(
            "sms.resend_unknown modem=%s id=%s part=%d reason=no-reports",
            *(self.settings.id, sms.id, fate.part),
        )
        self.send(sms, start=fate.part, resend_first=True, expected_ref=fate.expected_ref)

    def _confirm(self, fate: UnknownFate, reference: int, how: str) -> None:
        log.info(
            "sms.fate_resolved modem=%s id=%s part=%d by=%s ref=%s",
            *(self.settings.id, fate.sms.id, fate.part, how, reference),
        )
        now_ms = to_micros(self.clock()) // 1000
        self.outbox.submitted(fate.sms, fate.part, reference, now_ms, how=how)

    def _continue(self, sms_id: str) -> None:
        refreshed = self.outbox.get(sms_id)
        if refreshed is not None and 0 < refreshed.next_part < refreshed.parts:
            self.send(refreshed, start=refreshed.next_part, resend_first=False)
