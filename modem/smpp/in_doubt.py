"""A carrier link's parts of unknown fate: written when the process died or the bind broke, and
never answered.

Invariants: such a part waits up to `in_doubt_wait` (none without receipts) for a receipt that
names it (`fates.match`: destination, time, quoted text, and no other part or receipt fitting);
one matched is recorded as accepted under the receipt's id and the receipt applied; one not
matched in time is sent again once, and a part already sent again once is taken as sent (never a
third copy): at most one duplicate per submit in flight, none lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from modem.smpp import fates
from modem.smpp.coding import DC_UCS2
from modem.smpp.link_base import Job, LinkBase, SubmitInDoubt

log = logging.getLogger(__name__)

ORPHAN_SWEEP_MS = 10 * 60 * 1000  # receipts this young are tried again against the index


class Doubts(LinkBase):
    def _doubt_outstanding(self) -> None:
        mono, now_ms = time.monotonic(), self._now_ms()
        for flight in sorted(self.outstanding.values(), key=lambda f: f.sent):
            since = now_ms - int((mono - flight.sent) * 1000)
            self.in_doubt.append(
                SubmitInDoubt(flight.job, flight.part, since, self._deadline(mono))
            )
        if self.outstanding:
            log.warning("smpp.in_doubt link=%s parts=%d", self.id, len(self.outstanding))
        self.outstanding.clear()

    def _deadline(self, mono: float) -> float:
        return mono + (self.settings.in_doubt_wait if self.settings.receipts else 0)

    def _recover(self) -> None:
        """At the start: SMS this link had claimed go back to its queue; parts it was writing
        when it died wait for their receipt, then are sent again once."""
        now_ms, mono = self._now_ms(), time.monotonic()
        for fate in self.outbox.recover(self.id, now_ms):
            parts = self._parts(fate.sms)
            if parts is None:
                continue
            since = int(fate.sms.fields.get("updated_ms") or now_ms)
            job = Job(fate.sms, parts, fate.part)
            self.in_doubt.append(SubmitInDoubt(job, fate.part, since, self._deadline(mono)))
        if self.in_doubt:
            log.warning("smpp.recovered link=%s in_doubt=%d", self.id, len(self.in_doubt))

    def _resolve(self, mono: float) -> None:
        if not self.in_doubt:
            return
        orphans = {o.member: o for o in self.registry.orphans(self.id)}
        unknown = [
            fates.UnknownSubmit(
                i,
                d.job.sms.to,
                d.since_ms,
                d.job.parts[d.part].text,
                d.job.parts[d.part].data_coding != DC_UCS2,
            )
            for i, d in enumerate(self.in_doubt)
        ]
        candidates = [
            fates.Candidate(o.member, o.recipient, o.at_ms, o.text) for o in orphans.values()
        ]
        found = fates.match(unknown, candidates)
        now_ms = self._now_ms()
        keep: list[SubmitInDoubt] = []
        for i, doubt in enumerate(self.in_doubt):
            job, part = doubt.job, doubt.part
            member = found.get(i)
            if member is not None:
                orphan = orphans[str(member)]
                done = self.outbox.accepted(job.sms, part, orphan.message_id, now_ms, how="receipt")
                self.outbox.receipt(
                    self.id, orphan.message_id, orphan.state == "DELIVRD", True, now_ms
                )
                self.registry.drop_orphans(self.id, [orphan.member])
                self.counters["resolved"] += 1
                log.info(
                    "sms.fate_resolved link=%s id=%s part=%d by=receipt", self.id, job.sms.id, part
                )
            elif mono >= doubt.deadline:
                if job.sms.resent:
                    # Sent again once already and still unknown: never a third copy.
                    done = self.outbox.accepted(job.sms, part, "", now_ms, how="earlier-resend")
                    log.warning("sms.fate_assumed link=%s id=%s part=%d", self.id, job.sms.id, part)
                else:
                    log.warning(
                        "sms.resend_unknown link=%s id=%s part=%d", self.id, job.sms.id, part
                    )
                    self.counters["resent"] += 1
                    job.next, job.resend = part, True
                    job.sms = replace(job.sms, resent=True)
                    self.ready.appendleft(job)
                    continue
            else:
                keep.append(doubt)
                continue
            if not done:
                job.next = part + 1
                self.ready.append(job)
        self.in_doubt = keep

    def _sweep_orphans(self, now_ms: int) -> None:
        """Receipts that came before the answer that names their id (a receiver session may be
        faster than the transmitter's): applied once the id is known."""
        applied = []
        for orphan in self.registry.orphans(self.id):
            if orphan.at_ms < now_ms - ORPHAN_SWEEP_MS:
                continue
            delivered = orphan.state == "DELIVRD"
            if self.outbox.receipt(self.id, orphan.message_id, delivered, True, now_ms) is not None:
                applied.append(orphan.member)
        self.registry.drop_orphans(self.id, applied)
        self.registry.prune_orphans(self.id, now_ms)
