"""A modem's owner sending: the next SMS claimed for the modem, its parts sent one at a time.

Invariants: nothing is claimed while the modem is disabled, quarantined, off the network, out of
credit or over its caps (`under_caps`); each part's `submitting` is saved before its PDU is
written, and a part whose `submitting` was not saved (the SMS failed meanwhile) is not written;
a part the modem accepted is recorded (retried through a store hiccup) and counted against the
caps; a refusal is classified (`SendVerdict`) and becomes the SMS's next try (`after_refusal`),
a charging refusal of a SIM without credit sending it elsewhere.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from gateway.core.messages import RetryWhere
from gateway.core.modem_states import ModemState
from gateway.core.office_routes import modem_pool
from gateway.core.phones import mask_phone
from gateway.core.send_caps import Caps, under_caps
from gateway.core.times import to_micros
from gateway.store import metrics
from gateway.store.metrics import NO_CREDIT
from gateway.store.outbound import Outbound
from modem.device import encode_parts
from modem.errors import ModemUnavailable, SendFailed, SendVerdict
from modem.outgoing import dropped_for_opt_out
from modem.owner_base import OwnerBase

log = logging.getLogger(__name__)

WHERE = {
    SendVerdict.RETRY_HERE: RetryWhere.HERE,
    SendVerdict.RETRY_ELSEWHERE: RetryWhere.ELSEWHERE,
    SendVerdict.QUARANTINE: RetryWhere.ELSEWHERE,
    SendVerdict.NEVER: RetryWhere.NEVER,
}


class Sending(OwnerBase):
    def _may_send(self) -> bool:
        s = self.settings
        if not s.enabled:
            self.status.state = ModemState.DISABLED
            return False
        reason = self.registry.quarantined(s.id)
        if reason is not None:
            self.status.state = ModemState.QUARANTINED
            self.status.last_error = reason
            return False
        self.status.state = ModemState.UP
        if not self.status.registered or self.credit.no_credit:
            return False
        return under_caps(
            self.caps.sent(s.id, self.clock()), Caps(s.per_minute, s.per_hour, s.per_day)
        )

    def send_one(self) -> bool:
        if not self._may_send():
            return False
        now_ms = to_micros(self.clock()) // 1000
        sms = self.outbox.claim(
            self.settings.id,
            self._carrier() or "",
            now_ms,
            reply_wait_ms=self.pool.reply_wait_seconds * 1000,
            pool=modem_pool(self.settings.office),  # its office's queue, or the shared one
        )
        if sms is None:
            return False
        if dropped_for_opt_out(
            self.outbox, self.opt_outs, sms, now_ms, f"modem={self.settings.id}"
        ):
            return True
        self.send(sms, start=sms.next_part, resend_first=False)
        return True

    def send(
        self, sms: Outbound, start: int, resend_first: bool, expected_ref: int | None = None
    ) -> None:
        """Sends the parts of `sms` from `start`; the first one as a duplicate-safe resend."""
        assert self.device is not None
        concat_ref = sms.concat_reference
        parts = encode_parts(
            sms.to,
            sms.text,
            concat_ref=concat_ref,
            reject_duplicates=False,
            message_reference=0,
        )
        sms = self.outbox.plan(sms, len(parts), concat_ref if len(parts) > 1 else None)
        for index in range(start, len(parts)):
            part = parts[index]
            resend = index == start and resend_first
            if resend:
                part = encode_parts(
                    sms.to,
                    sms.text,
                    concat_ref=concat_ref,
                    reject_duplicates=True,
                    message_reference=((expected_ref or 0) - index) % 256,
                )[index]
            guess = None if self.status.last_ref is None else (self.status.last_ref + 1) % 256
            now_ms = to_micros(self.clock()) // 1000
            if not self.outbox.submitting(sms, index, guess, now_ms, resend=resend):
                # No longer claimed: a report failed it meanwhile. Nothing more of it goes out.
                log.warning(
                    "sms.stopped modem=%s id=%s part=%d reason=not-claimed",
                    *(self.settings.id, sms.id, index),
                )
                return
            started = time.monotonic()
            try:
                reference = self.device.send(part)
            except SendFailed as exc:
                self._refused(sms, exc)
                return
            except ModemUnavailable as exc:
                # The part's fate is unknown: it stays `submitting` and is resolved on reconnect.
                metrics.modem_lost(self.registry.client, self.settings.id)
                self._lost(f"send: {exc}")
                return
            self.status.last_ref = reference
            self.credit.spent()
            now_ms = to_micros(self.clock()) // 1000
            record = partial(self.outbox.submitted, sms, index, reference, now_ms)
            self._persist("submitted", record)
            self._persist("caps", partial(self._count_part, time.monotonic() - started))
            self.status.sent += 1
        log.info(
            "sms.submitted modem=%s id=%s to=%s parts=%d",
            self.settings.id,
            sms.id,
            mask_phone(sms.to),
            len(parts),
        )

    def _count_part(self, seconds: float) -> None:
        self.registry.count_sent(self.settings.id, self.clock())
        self.caps.count(self.settings.id, self.clock())
        metrics.part_sent(self.registry.client, self.settings.id, seconds)

    def _refused(self, sms: Outbound, exc: SendFailed) -> None:
        now_ms = to_micros(self.clock()) // 1000
        self.status.last_error = str(exc)
        error = f"+CMS ERROR: {exc.code}" if exc.code is not None else str(exc)
        assert self.device is not None
        if self.credit.explains(exc.code, self.device, self._carrier()):
            # Not the SIM's fault nor the message's: it has no credit. Another modem sends it.
            metrics.send_failed(self.registry.client, self.settings.id, NO_CREDIT, exc.code)
            self.status.last_error = f"{error}: SIM hết tiền"
            self._persist(
                "refused",
                lambda: self.outbox.failed_attempt(
                    sms, RetryWhere.ELSEWHERE, f"{error} (SIM hết tiền)", now_ms
                ),
            )
            log.warning(
                "sms.refused modem=%s id=%s code=%s verdict=no-credit",
                *(self.settings.id, sms.id, exc.code),
            )
            self._publish_health(time.monotonic(), force=True)
            return
        metrics.send_failed(self.registry.client, self.settings.id, exc.verdict, exc.code)
        where = WHERE[exc.verdict]
        if exc.verdict is SendVerdict.QUARANTINE and self.registry.note_quarantine_error(
            self.settings.id, exc.code, now_ms
        ):
            log.warning("modem.quarantined modem=%s code=%s", self.settings.id, exc.code)
        state = self._persist(
            "refused", lambda: self.outbox.failed_attempt(sms, where, error, now_ms)
        )
        log.warning(
            "sms.refused modem=%s id=%s code=%s verdict=%s now=%s",
            self.settings.id,
            sms.id,
            exc.code,
            exc.verdict,
            state,
        )
