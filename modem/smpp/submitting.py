"""A carrier link's outbound side: SMS claimed from its queue, written as submit_sm within the
window and the TPS, and the SMSC's answers settled.

Invariants: a part's `submitting` is saved (in one atomic step for the whole batch) before its
submit_sm is written, and a part whose `submitting` was not saved (the SMS failed meanwhile) is
never written; at most `window` parts wait for an answer and at most `tps` are written a second;
a throttled answer (ESME_RTHROTTLED, ESME_RMSGQFUL) sends the same part again after a growing
pause and does not count as a failed attempt; the answers read in one select round are stored
in one atomic step (`Outbox.accepted_parts`).
"""

from __future__ import annotations

import logging
import time

from gateway.core.phones import mask_phone
from gateway.store.links import canonical_id
from gateway.store.outbound import Outbound
from modem.outgoing import dropped_for_opt_out
from modem.smpp.coding import SubmitPart, destination
from modem.smpp.errors import THROTTLED, status_name, where_to_retry
from modem.smpp.link_base import InFlight, Job, LinkBase
from modem.smpp.session import ESME_ROK, SmppAnswer

log = logging.getLogger(__name__)

CLAIM_POLL_SECONDS = 1.0  # retries come due without a wake-up: look at the queue this often
THROTTLE_BACKOFF_MAX = 30.0


class Submitting(LinkBase):
    def _settle(self, answers: list[SmppAnswer]) -> None:
        """The SMSC's answers to submit_sm: message ids stored (one atomic step for all the
        accepted ones), throttled parts queued again, refusals retried or given up."""
        accepted: list[tuple[InFlight, str]] = []
        for answer in answers:
            flight = self.outstanding.pop(answer.sequence, None)
            if flight is None:
                log.info("smpp.late_answer link=%s seq=%s", self.id, answer.sequence)
            elif answer.status == ESME_ROK and answer.command == "submit_sm_resp":
                accepted.append(
                    (flight, canonical_id(answer.message_id, self.settings.receipt_ids))
                )
            elif answer.status in THROTTLED:
                self._throttled(flight, answer.status)
            else:
                self._refused(flight, answer.status)
        if not accepted:
            return
        done = self.outbox.accepted_parts(
            [(f.job.sms, f.part, message_id, "submit_sm_resp") for f, message_id in accepted],
            self._now_ms(),
        )
        self.counters["submitted"] += len(accepted)
        self.status.submitted += len(accepted)
        self.status.throttle_backoff = 0.0
        for (flight, _), finished in zip(accepted, done, strict=True):
            job = flight.job
            if finished:
                log.info(
                    "sms.submitted link=%s id=%s to=%s parts=%d",
                    self.id,
                    job.sms.id,
                    mask_phone(job.sms.to),
                    len(job.parts),
                )
            else:
                job.next = flight.part + 1
                self.ready.appendleft(job)

    def _throttled(self, flight: InFlight, status: int) -> None:
        mono = time.monotonic()
        if mono >= self.status.paused_until:  # a new refusal, not one more of the same burst
            backoff = min(THROTTLE_BACKOFF_MAX, max(1.0, self.status.throttle_backoff * 2))
            self.status.throttle_backoff = backoff
            self.status.paused_until = mono + backoff
            log.warning(
                "smpp.throttled link=%s status=%s pause=%.0fs",
                self.id,
                status_name(status),
                backoff,
            )
        self.counters["throttled"] += 1
        flight.job.next = flight.part
        self.ready.appendleft(flight.job)  # the same part again, not an attempt that failed

    def _refused(self, flight: InFlight, status: int) -> None:
        name = status_name(status)
        self.counters[f"error:{name}"] += 1
        sms = flight.job.sms
        state = self.outbox.failed_attempt(sms, where_to_retry(status), name, self._now_ms())
        log.warning("sms.refused link=%s id=%s status=%s now=%s", self.id, sms.id, name, state)

    def _may_send(self, mono: float) -> bool:
        return (
            self.tx is not None
            and not self.stopping.is_set()
            and len(self.outstanding) < self.settings.window
            and mono >= self.status.paused_until
            and self._tokens(mono) >= 1.0
        )

    def _tokens(self, mono: float) -> float:
        tps = float(self.settings.tps)
        elapsed = mono - self.status.tokens_at
        self.status.tokens = min(tps, self.status.tokens + elapsed * tps)
        self.status.tokens_at = mono
        return self.status.tokens

    def _token_time(self, mono: float) -> float:
        missing = 1.0 - self._tokens(mono)
        return mono if missing <= 0 else mono + missing / self.settings.tps

    def _send(self) -> None:
        """As many parts as the window and the TPS allow, their states saved in one atomic step
        before their submit_sm are written."""
        mono = time.monotonic()
        if not self._may_send(mono):
            return
        assert self.tx is not None
        room = min(self.settings.window - len(self.outstanding), int(self._tokens(mono)))
        jobs = self._jobs(room)
        if not jobs:
            return
        prepared = [(job, job.next, self.tx.prepare_submit(self._fields(job))) for job in jobs]
        saved = self.outbox.submitting_parts(
            [(job.sms, part, job.resend) for job, part, _ in prepared], self._now_ms()
        )
        outgoing = []
        for (job, part, pdu), ok in zip(prepared, saved, strict=True):
            if ok:
                outgoing.append((job, part, pdu))
            else:  # no longer claimed: a receipt failed it meanwhile; nothing more goes out
                log.warning(
                    "sms.stopped link=%s id=%s part=%d reason=not-claimed",
                    self.id,
                    job.sms.id,
                    part,
                )
        if not outgoing:
            return
        mono = time.monotonic()
        for job, part, pdu in outgoing:
            self.outstanding[pdu.sequence] = InFlight(job, part, mono)
            job.resend = False
        self.status.tokens -= len(outgoing)
        self.heard[self.tx.name] = mono
        self.tx.send([pdu for _, _, pdu in outgoing])  # LinkDown: they are in doubt now

    def _jobs(self, room: int) -> list[Job]:
        jobs: list[Job] = []
        while self.ready and len(jobs) < room:
            jobs.append(self.ready.popleft())
        mono = time.monotonic()
        if len(jobs) == room or (
            not self.status.maybe_work and mono - self.status.last_claim < CLAIM_POLL_SECONDS
        ):
            return jobs
        self.status.last_claim = mono
        wanted = room - len(jobs)
        claimed = self.outbox.claim_route(self.id, self._now_ms(), wanted)
        self.status.maybe_work = len(claimed) >= wanted
        planned = []
        for sms in claimed:
            parts = self._usable_parts(sms)
            if parts is not None:
                concat_ref = sms.concat_reference
                planned.append((sms, parts, concat_ref if len(parts) > 1 else None))
        stored = self.outbox.plan_all([(sms, len(parts), ref) for sms, parts, ref in planned])
        jobs += [
            Job(sms, parts, sms.next_part)
            for sms, (_, parts, _) in zip(stored, planned, strict=True)
        ]
        return jobs

    def _usable_parts(self, sms: Outbound) -> list[SubmitPart] | None:
        if dropped_for_opt_out(self.outbox, self.opt_outs, sms, self._now_ms(), f"link={self.id}"):
            return None
        return self._parts(sms)

    def _fields(self, job: Job) -> dict[str, object]:
        part = job.parts[job.next]
        fields: dict[str, object] = {
            "source_addr_ton": self.source_ton,
            "source_addr_npi": self.source_npi,
            "source_addr": self.settings.source,
            "dest_addr_ton": self.dest_ton,
            "dest_addr_npi": self.dest_npi,
            "destination_addr": destination(job.sms.to, self.settings.number_format),
            "esm_class": part.esm_class,
            "data_coding": part.data_coding,
            "registered_delivery": 1 if self.settings.receipts else 0,
        }
        if part.payload is not None:
            fields["message_payload"] = part.payload
        else:
            fields["short_message"] = part.short_message
        if part.sar is not None:
            ref, total, seq = part.sar
            fields |= {
                "sar_msg_ref_num": ref,
                "sar_total_segments": total,
                "sar_segment_seqnum": seq,
            }
        return fields
