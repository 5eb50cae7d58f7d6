"""The durable queue of outbound SMS, shared by every worker, modem service and carrier link.

Each SMS is a hash that moves queued -> claimed -> submitting -> submitted -> delivered | failed,
as `gateway.core.sms_lifecycle` says and only as it says: every change of state is one script
built from that table (`outbox_scripts.py`), which leaves an SMS alone in a state the change does
not apply in, and says so. The state is saved *before* each part goes out (`submitting`), so after
a crash the modem's owner knows which parts have an unknown fate (`recover`) and resends each of
them once, with TP-Reject-Duplicates set; a part whose `submitting` was not saved is not sent.

Queues: a shared one that any modem takes from (preferring SMS to its own carrier's numbers), one
pinned queue per modem (a reply leaves through the number the citizen wrote to) or carrier link,
and a delayed set for retries with backoff. A modem that is down hands its pinned SMS to the
shared queue (`release_pinned`). Where a retry goes and when is the core's decision
(`after_refusal`); the outbox stores it.

Every SMS also has an append-only attempt log (`attempts`), written in the same atomic step as
each change of its state: queued, claimed, submitting (a part, and whether it is a resend),
submitted, refused, gave up, requeued (a dead owner's claim), fate unknown, released, rerouted -
each with the time, the modem and the service instance (`acting_as`). A part that went over the
air twice is explained by it: an attempt whose outcome was never recorded, then a resend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import redis

from gateway.core.messages import REPORTS_ALIVE_MS, Priority, RetryWhere, SmsState, report_number
from gateway.core.phones import carrier_of
from gateway.core.sms_lifecycle import Recovery, after_refusal, recovery
from gateway.store import keys, outbox_scripts
from gateway.store.outbound import Outbound, UnknownFate
from gateway.store.outbox_reads import OutboxReads
from gateway.store.outbox_scripts import ATTEMPTS_TTL, PRIORITY_BAND
from gateway.store.replication import confirm

__all__ = ["Outbound", "Outbox", "UnknownFate"]

DELIVERY_REF_TTL = 3 * 86400
DEDUPE_TTL = 30 * 86400
RECEIPT_FAILED = "delivery failed"  # the error of an SMS a carrier's receipt says failed


class Outbox(OutboxReads):
    def __init__(self, client: redis.Redis, instance: str = "") -> None:
        super().__init__(client, instance)
        self._claim = client.register_script(outbox_scripts.CLAIM)
        self._delivery = client.register_script(outbox_scripts.DELIVERY)
        self._enqueue = client.register_script(outbox_scripts.ENQUEUE)
        self._release = client.register_script(outbox_scripts.RELEASE)
        self._claim_route = client.register_script(outbox_scripts.CLAIM_ROUTE)
        self._reroute = client.register_script(outbox_scripts.REROUTE)
        self._submitting = client.register_script(outbox_scripts.SUBMITTING)
        self._submitted = client.register_script(outbox_scripts.SUBMITTED)
        self._refused = client.register_script(outbox_scripts.REFUSED)
        self._gave_up = client.register_script(outbox_scripts.GAVE_UP)
        self._requeue = client.register_script(outbox_scripts.REQUEUE)

    def acting_as(self, instance: str) -> Outbox:
        """The same outbox, with `instance` (e.g. a modem service) named in the attempt log."""
        return Outbox(self._redis, instance)

    def _log_args(self) -> list[str]:
        return [keys.sms_attempts(""), self._instance]

    def _log(self, pipe: Any, message_id: str, event: str, now_ms: int, **fields: Any) -> None:
        """An attempt-log entry that goes with no change of state (`fate_unknown`)."""
        entry = {"at": now_ms, "event": event, **fields, "by": self._instance}
        name = keys.sms_attempts(message_id)
        pipe.rpush(name, json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        pipe.expire(name, ATTEMPTS_TTL)

    # -- producers (workers) ---------------------------------------------------------------

    def enqueue(
        self,
        to: str,
        text: str,
        priority: Priority,
        now_ms: int,
        *,
        via: str = "",
        carrier: str = "",
        kind: str = "",
        dossier: str = "",
        dedupe_key: str = "",
        office: str = "",
        pool: str = "",
    ) -> str:
        """Queues an SMS and returns its id; the same `dedupe_key` again returns the first id.
        `office`: whose SMS it is; `pool`: the queue that stands for "another modem" when it is
        retried elsewhere or its modem goes down ("" the shared one, ``@<office>`` an office's).

        One script: the dedupe key is never set without its SMS (a job killed in between would
        otherwise leave a key that answers "queued before" for an SMS that does not exist)."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        score = int(priority) * PRIORITY_BAND + now_ms
        message_id = self._enqueue(
            keys=[
                keys.sms_dedupe(dedupe_key) if dedupe_key else "",
                keys.sms_counter(),
                queue,
                keys.outbox_wake(via or "shared"),
                keys.sms_by_phone(to),
                keys.sms_by_dossier(dossier) if dossier else "",
            ],
            args=[
                keys.sms_prefix(),
                to,
                text,
                int(priority),
                via,
                carrier,
                kind,
                dossier,
                score,
                now_ms,
                DEDUPE_TTL,
                office,
                pool,
                *self._log_args(),
            ],
        )
        confirm(self._redis)  # also for a dedupe hit: its first enqueue may be unconfirmed
        return str(message_id)

    def resend(self, message_id: str, now_ms: int) -> str:
        """Queues a copy of a failed SMS as a new SMS and links the two; the same failed SMS
        resent twice gives the same copy. Raises LookupError (no such SMS) or ValueError (it
        has not failed)."""
        sms = self.get(message_id)
        if sms is None:
            raise LookupError(f"No SMS {message_id}.")
        if sms.state is not SmsState.FAILED:
            raise ValueError(f"SMS {message_id} is {sms.state.value}, not failed.")
        new_id = self.enqueue(
            sms.to,
            sms.text,
            Priority(sms.priority),
            now_ms,
            carrier=carrier_of(sms.to) or "",
            kind=sms.fields.get("kind", ""),
            dossier=sms.fields.get("dossier", ""),
            dedupe_key=f"admin-resend:{message_id}",
            via=sms.fields.get("pool", ""),  # the modems it may leave from: its office's
            office=sms.fields.get("office", ""),
            pool=sms.fields.get("pool", ""),
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(keys.sms(message_id), "resent_as", new_id)
        pipe.hset(keys.sms(new_id), "resend_of", message_id)
        pipe.execute()
        return new_id

    # -- taking SMS: a modem's owner, a carrier link -------------------------------------------

    def claim(
        self,
        modem: str,
        carrier: str,
        now_ms: int,
        reply_wait_ms: int | None = None,
        pool: str = "",
    ) -> Outbound | None:
        """The next SMS for this modem: the head of its pinned queue or of its pool's queue
        (`pool`: "" the shared one, ``@<office>`` its office's; its carrier's numbers first),
        whichever comes first by priority then age; with `reply_wait_ms`, also a reply pinned to
        another modem of its pool and of the same `carrier` that has waited that long (recorded
        on it: `reply_wait_ms`, `spilled_from`)."""
        raw = self._claim(
            keys=[
                keys.outbox_pinned(modem),
                keys.outbox_pinned(pool) if pool else keys.outbox_shared(),
                keys.outbox_delayed(),
                keys.outbox_inflight(modem),
                keys.modem_carriers(pool),
            ],
            args=[
                modem,
                carrier,
                now_ms,
                keys.sms_prefix(),
                "" if reply_wait_ms is None else max(0, reply_wait_ms),
                keys.outbox_pinned(""),
                *self._log_args(),
            ],
        )
        if not raw:
            return None
        it = iter(raw)
        return Outbound.from_hash(dict(zip(it, it, strict=True)))

    def claim_route(self, route: str, now_ms: int, limit: int) -> list[Outbound]:
        """Up to `limit` SMS from the queue of one route (a carrier link), oldest of the highest
        priority first; each is `claimed` by the route, as `claim` does for a modem."""
        raw = self._claim_route(
            keys=[keys.outbox_pinned(route), keys.outbox_delayed(), keys.outbox_inflight(route)],
            args=[route, now_ms, limit, keys.sms_prefix(), *self._log_args()],
        )
        claimed = []
        for fields in cast(list[list[str]], raw or []):
            it = iter(fields)
            claimed.append(Outbound.from_hash(dict(zip(it, it, strict=True))))
        return claimed

    def plan(self, sms: Outbound, parts: int, concat_ref: int | None) -> Outbound:
        """Records how the SMS is split (once): resends must use the same parts and reference."""
        return self.plan_all([(sms, parts, concat_ref)])[0]

    def plan_all(self, planned: Sequence[tuple[Outbound, int, int | None]]) -> list[Outbound]:
        """`plan` for a batch of (sms, parts, concat_ref) in one round trip: what a carrier link
        claimed at once."""
        pipe = self._redis.pipeline(transaction=False)
        out = []
        for sms, parts, concat_ref in planned:
            if sms.parts:
                out.append(sms)
                continue
            fields: dict[Any, Any] = {"parts": parts, "refs": json.dumps([None] * parts)}
            if concat_ref is not None:
                fields["concat_ref"] = concat_ref
            pipe.hset(keys.sms(sms.id), mapping=fields)
            out.append(
                replace(
                    sms,
                    parts=parts,
                    refs=(None,) * parts,
                    concat_ref=concat_ref,
                    fields=sms.fields | {k: str(v) for k, v in fields.items()},
                )
            )
        pipe.execute()
        return out

    # -- handing parts over --------------------------------------------------------------------

    def submitting(
        self,
        sms: Outbound,
        part: int,
        expected_ref: int | None,
        now_ms: int,
        *,
        resend: bool = False,
    ) -> bool:
        """Saved before the part's PDU is written to the modem; `resend`: the part's fate was
        unknown and this is its one resend (recorded with it, atomically: a crash between the
        two would otherwise count a resend that never went out). False: nothing was saved, the
        SMS is no longer claimed or submitting (a report failed it), and the part must not go
        out."""
        return self.submitting_parts([(sms, part, resend)], now_ms, expected_ref)[0]

    def submitting_parts(
        self,
        parts: Sequence[tuple[Outbound, int, bool]],
        now_ms: int,
        expected_ref: int | None = None,
    ) -> list[bool]:
        """`submitting` for a batch of (sms, part, resend) in one atomic step (one fsync), saved
        before a carrier link writes their submit_sm: a link writes a window of them at once.
        Says of each whether it was saved."""
        pipe = self._redis.pipeline(transaction=True)
        expected = "" if expected_ref is None else str(expected_ref)
        for sms, part, resend in parts:
            self._submitting(
                keys=[keys.sms(sms.id)],
                args=[sms.id, part, expected, int(resend), now_ms, sms.modem, *self._log_args()],
                client=pipe,
            )
        return [bool(saved) for saved in pipe.execute()]

    def submitted(
        self, sms: Outbound, part: int, reference: int, now_ms: int, *, how: str = "+CMGS"
    ) -> bool:
        """The network took the part (`+CMGS: <reference>`, or after a crash a status report or
        an earlier resend: `how`); True once nothing more of the SMS is to be sent (every part
        is in, or a report failed it)."""
        pipe = self._redis.pipeline(transaction=True)
        index = keys.delivery_ref(sms.modem, reference, report_number(sms.to))
        last = keys.modem_last_reference(sms.modem) if how == "+CMGS" else ""
        self._part_taken(pipe, sms, part, reference, reference, index, last, now_ms, how)
        return bool(pipe.execute()[0])

    def accepted(
        self, sms: Outbound, part: int, message_id: str, now_ms: int, *, how: str = "submit_sm_resp"
    ) -> bool:
        """A carrier link's SMSC took the part under `message_id` (submit_sm_resp, or after a
        crash its receipt: `how`); True once nothing more of the SMS is to be sent. Its receipt
        finds the part by (route, message id); an empty id (resent already, fate still unknown)
        indexes nothing."""
        return self.accepted_parts([(sms, part, message_id, how)], now_ms)[0]

    def accepted_parts(
        self, parts: Sequence[tuple[Outbound, int, str, str]], now_ms: int
    ) -> list[bool]:
        """`accepted` for a batch of (sms, part, message id, how) in one atomic step."""
        pipe = self._redis.pipeline(transaction=True)
        for sms, part, message_id, how in parts:
            index = keys.smpp_message(sms.modem, message_id) if message_id else ""
            self._part_taken(
                pipe, sms, part, message_id or None, message_id, index, "", now_ms, how
            )
        return [bool(done) for done in pipe.execute()]

    def _part_taken(
        self,
        pipe: Any,
        sms: Outbound,
        part: int,
        recorded: int | str | None,
        logged: int | str,
        index: str,
        last_reference: str,
        now_ms: int,
        how: str,
    ) -> None:
        self._submitted(
            keys=[keys.sms(sms.id), keys.outbox_inflight(sms.modem), index, last_reference],
            args=[
                sms.id,
                part,
                json.dumps(recorded),
                json.dumps(logged, ensure_ascii=False),
                DELIVERY_REF_TTL,
                now_ms,
                sms.modem,
                how,
                *self._log_args(),
            ],
            client=pipe,
        )

    def failed_attempt(self, sms: Outbound, where: RetryWhere, error: str, now_ms: int) -> SmsState:
        """A part was refused: the SMS is tried again (here later, or elsewhere now) or has
        failed, as `after_refusal` decides. Returns its state after."""
        avoid = tuple(filter(None, sms.fields.get("avoid", "").split(",")))
        nxt = after_refusal(sms.attempts, where, modem=sms.modem, via=sms.via, avoid=avoid)
        elsewhere = nxt.via or sms.fields.get("pool", "")  # another modem: of its office's pool
        queue = keys.outbox_pinned(elsewhere) if elsewhere else keys.outbox_shared()
        due = now_ms + int((nxt.delay or 0.0) * 1000)
        state = self._refused(
            keys=[keys.sms(sms.id), keys.outbox_inflight(sms.modem), keys.outbox_delayed()],
            args=[
                sms.id,
                nxt.attempts,
                error,
                now_ms,
                int(nxt.delay is not None),
                ",".join(nxt.avoid),
                queue,
                due,
                sms.modem,
                *self._log_args(),
            ],
        )
        return SmsState(str(state))

    def give_up(self, sms: Outbound, error: str, now_ms: int) -> None:
        """The SMS failed: its sender stops (opted out, cannot be encoded)."""
        self._gave_up(
            keys=[keys.sms(sms.id), keys.outbox_inflight(sms.modem)],
            args=[sms.id, error, now_ms, sms.modem, *self._log_args()],
        )

    def mark_resent(self, sms: Outbound) -> None:
        self._redis.hset(keys.sms(sms.id), "resent", "1")

    # -- reports and receipts ------------------------------------------------------------------

    def delivery_report(
        self,
        modem: str,
        reference: int,
        recipient: str,
        delivered: bool,
        final: bool,
        now_ms: int,
        status: int | None = None,
    ) -> tuple[str, SmsState] | None:
        """Applies a status report to the part it is for; (sms id, its state) or None if unknown.
        `status` (TP-ST) is named in the error of a part that was not delivered."""
        error = "không đến được máy người nhận"
        if status is not None:
            error += f" (TP-ST {status})"
        self._redis.set(keys.modem_last_report(modem), now_ms, ex=REPORTS_ALIVE_MS // 1000)
        result = self._report(
            keys.delivery_ref(modem, reference, report_number(recipient)),
            delivered,
            final,
            now_ms,
            error,
        )
        if result is None and recipient != report_number(recipient):
            # a part recorded before recipients were compared by their last digits
            old = keys.delivery_ref(modem, reference, recipient)
            result = self._report(old, delivered, final, now_ms, error)
        return result

    def _report(
        self, index: str, delivered: bool, final: bool, now_ms: int, error: str, client: Any = None
    ) -> tuple[str, SmsState] | None:
        result = self._delivery(
            keys=[index, keys.outbox_delayed()],
            args=[
                int(delivered),
                int(final),
                now_ms,
                keys.sms_prefix(),
                error,
                keys.outbox_inflight(""),
            ],
            client=client,
        )
        return None if client is not None else _reported(result)

    def receipt(
        self, route: str, message_id: str, delivered: bool, final: bool, now_ms: int
    ) -> tuple[str, SmsState] | None:
        """Applies a carrier's delivery receipt to the part it is for (`delivery_report`'s rule:
        one failed part fails the SMS, all delivered delivers it); None if the id is unknown."""
        return self.receipts(route, [(message_id, delivered, final)], now_ms)[0]

    def receipts(
        self, route: str, receipts: Sequence[tuple[str, bool, bool]], now_ms: int
    ) -> list[tuple[str, SmsState] | None]:
        """`receipt` for a batch of (message id, delivered, final) in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for message_id, delivered, final in receipts:
            index = keys.smpp_message(route, message_id)
            self._report(index, delivered, final, now_ms, RECEIPT_FAILED, client=pipe)
        return [_reported(result) for result in pipe.execute()]

    # -- crashes and failover ----------------------------------------------------------------

    def recover(self, modem: str, now_ms: int) -> list[UnknownFate]:
        """At the start of a modem's owner (or a link): SMS it had claimed go back to their
        queue; parts it was submitting when it died are returned, to be resent once
        (TP-Reject-Duplicates); the rest leave its in-flight set (`sms_lifecycle.recovery`)."""
        unknown: list[UnknownFate] = []
        inflight = keys.outbox_inflight(modem)
        for message_id in sorted(self._redis.smembers(inflight), key=str):
            sms = self.get(str(message_id))
            todo = recovery(None if sms is None else sms.state)
            if sms is None or todo is Recovery.FORGET:
                self._redis.srem(inflight, str(message_id))
            elif todo is Recovery.IN_DOUBT:
                expected = sms.fields.get("expected_ref", "")
                since = int(sms.fields.get("updated_ms") or now_ms)
                guess = int(expected) if expected else None
                unknown.append(UnknownFate(sms, sms.next_part, guess, since))
                pipe = self._redis.pipeline(transaction=False)
                self._log(pipe, sms.id, "fate_unknown", now_ms, modem=modem, part=sms.next_part)
                pipe.execute()
            else:
                self._requeue(
                    keys=[keys.sms(sms.id), inflight, keys.outbox_shared()],
                    args=[sms.id, now_ms, sms.modem, *self._log_args()],
                )
        return unknown

    def release_pinned(self, modem: str, pool: str = "") -> int:
        """A modem is down: the SMS pinned to it go to their pool's queue (the one each was
        queued with: its office's modems, or the shared one; for an SMS queued before offices,
        `pool`, the modem's: "" the shared one, ``@<office>`` its office's). Returns how many."""
        moved = 0
        fallback = keys.outbox_pinned(pool) if pool else keys.outbox_shared()
        while True:
            count = int(
                self._release(
                    keys=[keys.outbox_pinned(modem), fallback],
                    args=[modem, keys.sms_prefix(), keys.outbox_pinned(""), *self._log_args()],
                )
            )
            if not count:
                return moved
            moved += count

    def reroute(self, message_id: str, via: str) -> bool:
        """Moves a queued SMS to the queue of `via` ("" the modems' shared queue, else a modem or
        link id); False if it is not queued (taken meanwhile) or already there."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        moved = self._reroute(
            keys=[queue, keys.outbox_wake(via or "shared")],
            args=[message_id, via, keys.sms_prefix(), *self._log_args()],
        )
        return bool(moved)


def _reported(result: Any) -> tuple[str, SmsState] | None:
    return None if not result else (str(result[0]), SmsState(result[1]))
