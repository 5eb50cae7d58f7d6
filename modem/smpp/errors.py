"""Errors of a carrier link, and what an SMSC's refusal of a submit_sm means for the SMS.

`where_to_retry` reads a submit_sm_resp command_status (SMPP 3.4 5.1.3):
- throttling (ESME_RTHROTTLED, ESME_RMSGQFUL) is not a refusal of the SMS: the link backs off
  and sends the same part again (`THROTTLED`), without counting an attempt;
- the message or the number is wrong (bad destination, length, coding, esm_class): NEVER;
- this link cannot send it (source address refused, not allowed to this network, bind state):
  ELSEWHERE (another route of the outbox);
- anything else (system error, submit failed, unknown codes): HERE, later, with the outbox's
  backoff.
"""

from __future__ import annotations

import smpplib.consts

from gateway.core.messages import RetryWhere

C = smpplib.consts
THROTTLED = frozenset({C.SMPP_ESME_RTHROTTLED, C.SMPP_ESME_RMSGQFUL})
NEVER = frozenset(
    {
        C.SMPP_ESME_RINVMSGLEN,
        C.SMPP_ESME_RINVDSTADR,
        C.SMPP_ESME_RINVESMCLASS,
        C.SMPP_ESME_RINVDSTTON,
        C.SMPP_ESME_RINVDSTNPI,
        C.SMPP_ESME_RINVOPTPARAMVAL,
        0x0104,  # ESME_RINVDCS (vendor-defined in 3.4, common)
    }
)
ELSEWHERE = frozenset(
    {
        C.SMPP_ESME_RINVSRCADR,
        C.SMPP_ESME_RINVSRCTON,
        C.SMPP_ESME_RINVSRCNPI,
        C.SMPP_ESME_RINVBNDSTS,
        C.SMPP_ESME_RINVSERTYP,
        0x0101,  # ESME_RPROHIBITED (vendor-defined: not allowed to this destination)
    }
)
NAMES = {
    value: name.removeprefix("SMPP_")
    for name, value in vars(C).items()
    if name.startswith("SMPP_ESME_") and isinstance(value, int)
}


def status_name(status: int) -> str:
    """ESME_RTHROTTLED for 0x58; the hexadecimal code for one SMPP 3.4 does not name."""
    return str(NAMES.get(status, f"0x{status:08X}"))


def where_to_retry(status: int) -> RetryWhere:
    if status in NEVER:
        return RetryWhere.NEVER
    if status in ELSEWHERE:
        return RetryWhere.ELSEWHERE
    return RetryWhere.HERE


class LinkError(Exception):
    """Base of the carrier link's errors."""


class LinkDown(LinkError):
    """The connection to the SMSC is gone or unusable (refused, closed, timed out, garbled)."""


class BindRefused(LinkError):
    """The SMSC answered the bind with an error (a wrong password, an unknown system id...)."""

    def __init__(self, session: str, status: int) -> None:
        super().__init__(f"{session}: bind refused: {status_name(status)}")
        self.status = status
