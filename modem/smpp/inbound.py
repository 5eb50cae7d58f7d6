"""A carrier link's inbound side: deliver_sm, either a delivery receipt or a citizen's SMS.

Invariants: a citizen's SMS (or part) is persisted in the inbox (AOF, fsync) before its
deliver_sm_resp, and answered ESME_RX_T_APPN when the store cannot take it (the SMSC sends it
again); a deliver_sm sent again by the SMSC within 60-120 s is taken once; receipts read in one
round are applied in one round trip, one for an unknown message id kept as an orphan, and only
then answered: an unanswered receipt comes again.
"""

from __future__ import annotations

import logging

import redis

from gateway.core.phones import mask_phone
from gateway.store.inbox import InboundPart
from gateway.store.links import canonical_id
from modem.handover import hand_over
from modem.smpp.coding import DeliveryReceipt, MobileOriginated, deliver_digest, read_deliver
from modem.smpp.link_base import LinkBase
from modem.smpp.session import Session, SmppRequest

log = logging.getLogger(__name__)

# A deliver_sm sent again by the SMSC (its answer was lost, the session broke) is recognised by
# its content within this window and the one before (60 to 120 s): deliver_sm carry no time stamp,
# and a citizen who sends the same text again minutes later must get an answer again.
REDELIVERY_WINDOW_SECONDS = 60
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": the SMSC sends it again later


class Inbound(LinkBase):
    def _deliver(self, request: SmppRequest) -> DeliveryReceipt | MobileOriginated:
        try:
            return read_deliver(request.fields, self.settings.gsm7_packed)
        except ValueError as exc:
            raw = request.fields.get("short_message")
            sender = request.fields.get("source_addr")
            log.warning("smpp.undecodable link=%s error=%s", self.id, exc)
            return MobileOriginated(
                sender.decode("latin-1") if isinstance(sender, bytes) else str(sender or ""),
                "",
                f"[undecodable deliver_sm {raw.hex() if isinstance(raw, bytes) else ''}]",
                None,
            )

    def _take_in(self, session: Session, request: SmppRequest, sms: MobileOriginated) -> None:
        """A citizen's SMS (or one part of it): persisted, then answered, then handed over."""
        try:
            message = self._take(sms, request)
        except redis.RedisError as exc:
            # Not persisted: the SMSC keeps it and sends it again.
            log.warning("smpp.inbound_not_taken link=%s error=%s", self.id, exc)
            session.answer(request, ESME_RX_T_APPN)
            return
        session.answer(request)  # only now: the part is in Redis (AOF, fsync)
        if message is not None:
            self.counters["received"] += 1
            self.status.received += 1
            log.info(
                "sms.received link=%s id=%s from=%s parts=%s",
                self.id,
                message,
                mask_phone(sms.sender),
                sms.concat[1] if sms.concat else 1,
            )
            self.hand_over(message)

    def _take(self, sms: MobileOriginated, request: SmppRequest) -> str | None:
        now = self.clock()
        window = int(now.timestamp() // REDELIVERY_WINDOW_SECONDS)
        if self.inbox.seen_part(self.id, deliver_digest(self.id, request.fields, window - 1)):
            return None  # sent again by the SMSC: taken in the window before
        digest = deliver_digest(self.id, request.fields, window)
        part = InboundPart(self.id, sms.sender, sms.text, now, digest, sms.concat)
        return self.inbox.take(part, now)

    def hand_over(self, message_id: str) -> None:
        """To the workers, as the modem service hands over (modem/handover.py)."""
        hand_over(self.queue, self.inbox, message_id)

    def _apply_receipts(self, read: list[tuple[Session, SmppRequest, DeliveryReceipt]]) -> None:
        """Final receipts applied (one round trip), receipts for unknown ids kept as orphans,
        and only then answered: an unanswered receipt comes again."""
        final = [(request, receipt) for _, request, receipt in read if receipt.final]
        now_ms = self._now_ms()
        ids = [canonical_id(receipt.message_id) for _, receipt in final]
        applied = self.outbox.receipts(
            self.id, [(i, r.delivered, True) for i, (_, r) in zip(ids, final, strict=True)], now_ms
        )
        for message_id, (_, receipt), result in zip(ids, final, applied, strict=True):
            if result is None:
                self.registry.add_orphan(
                    self.id, message_id, receipt.state, receipt.recipient, receipt.text, now_ms
                )
                self.status.last_housekeeping = 0.0  # look for the part it fits at once
        for session, request, receipt in read:
            self.counters[f"receipts:{receipt.state}"] += 1
            session.answer(request)
