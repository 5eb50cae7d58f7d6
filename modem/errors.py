"""Errors of the modem device layer, and what a failed send means for the message.

`classify_cms` turns a `+CMS ERROR` code into a `SendVerdict` the pool acts on:

- RETRY_HERE: a passing condition of this modem or the network (no coverage, congestion, SIM
  busy, unknown); send again through the same modem after a backoff.
- RETRY_ELSEWHERE: this modem or SIM cannot send now (no SIM, PIN, SMSC unknown, no SMS
  subscription); hand the message to another modem.
- QUARANTINE: the network refuses this SIM (barring, transfer rejected, the "temporary failure"
  carriers answer to a SIM they take for a spammer). Retry elsewhere AND count the error
  towards this SIM's quarantine (DESIGN.md 3, "bursts of +CMS ERROR 8/10/21/41").
- NEVER: the message or the number is wrong (unassigned number, unknown subscriber, invalid
  PDU); sending it again anywhere gives the same answer.
"""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger(__name__)


class SendVerdict(StrEnum):
    RETRY_HERE = "retry_here"
    RETRY_ELSEWHERE = "retry_elsewhere"
    QUARANTINE = "quarantine"
    NEVER = "never"


class ModemError(Exception):
    """Base of the device layer's errors."""


class ModemUnavailable(ModemError):
    """The modem cannot be opened, does not answer, or its port or reader thread is dead."""


class SimNotInserted(ModemUnavailable):
    """The modem answers but has no usable SIM (+CPIN / +CME ERROR: 10)."""


class PinRequired(ModemError):
    """The SIM needs a PIN or PUK we do not have, or the one PIN attempt we made failed."""

    def __init__(self, state: str, attempted: bool = False) -> None:
        super().__init__(f"SIM state {state!r}" + (" after one PIN attempt" if attempted else ""))
        self.state = state
        self.attempted = attempted


class CommandFailed(ModemError):
    """An AT command (other than a send) ended in ERROR / +CME ERROR / +CMS ERROR."""

    def __init__(self, command: str, final: str) -> None:
        super().__init__(f"{command}: {final}")
        self.command = command
        self.final = final


class SendFailed(ModemError):
    """One part was not accepted. `code` is the +CMS ERROR code, None for a timeout or an
    answer without a code."""

    def __init__(self, code: int | None, verdict: SendVerdict, detail: str = "") -> None:
        super().__init__(f"send failed: code={code} verdict={verdict} {detail}".rstrip())
        self.code = code
        self.verdict = verdict
        self.detail = detail


R, E, Q, N = (
    SendVerdict.RETRY_HERE,
    SendVerdict.RETRY_ELSEWHERE,
    SendVerdict.QUARANTINE,
    SendVerdict.NEVER,
)

# 0-127: RP-cause of TS 24.011 Annex E-2 (the network's answer to our RP-DATA);
# 128-255: TP-Failure-Cause of TS 23.040 9.2.3.22 (the SMSC's answer);
# 300-500: ME/TA errors of TS 27.005 3.2.5; 512 and up are manufacturer specific.
CMS_VERDICTS: dict[int, SendVerdict] = {
    1: N,  # unassigned (unallocated) number
    8: Q,  # operator determined barring
    10: Q,  # call barred
    21: Q,  # short message transfer rejected
    22: R,  # memory capacity exceeded (recipient's), network will not retry for us
    27: R,  # destination out of order (phone off / unreachable): later
    28: N,  # unidentified subscriber
    29: E,  # facility rejected
    30: N,  # unknown subscriber
    38: R,  # network out of order
    41: Q,  # temporary failure (what carriers answer a SIM they take for a spammer)
    42: R,  # congestion
    47: R,  # resources unavailable, unspecified
    50: E,  # requested facility not subscribed
    69: E,  # requested facility not implemented
    81: R,  # invalid short message transfer reference value
    95: N,  # invalid message, unspecified
    96: N,  # invalid mandatory information
    97: N,  # message type non-existent or not implemented
    98: R,  # message not compatible with short message protocol state
    99: N,  # information element non-existent or not implemented
    111: R,  # protocol error, unspecified
    127: R,  # interworking, unspecified
    128: N,  # telematic interworking not supported
    129: N,  # short message type 0 not supported
    130: N,  # cannot replace short message
    143: N,  # unspecified TP-PID error
    144: N,  # data coding scheme (alphabet) not supported
    145: N,  # message class not supported
    159: N,  # unspecified TP-DCS error
    160: N,  # command cannot be actioned
    161: N,  # command unsupported
    175: N,  # unspecified TP-Command error
    176: N,  # TPDU not supported
    192: R,  # SC busy
    193: E,  # no SC subscription
    194: R,  # SC system failure
    195: N,  # invalid SME address
    196: N,  # destination SME barred
    197: N,  # SM rejected - duplicate SM (TP-RD): an earlier attempt got through
    198: N,  # TP-VPF not supported
    199: N,  # TP-VP not supported
    208: R,  # (U)SIM SMS storage full
    209: E,  # no SMS storage capability in (U)SIM
    210: E,  # error in MS
    211: R,  # memory capacity exceeded
    212: R,  # (U)SIM application toolkit busy
    213: R,  # (U)SIM data download error
    255: R,  # unspecified error cause
    300: E,  # ME failure
    301: E,  # SMS service of ME reserved
    302: E,  # operation not allowed
    303: E,  # operation not supported
    304: N,  # invalid PDU mode parameter
    305: N,  # invalid text mode parameter
    310: E,  # (U)SIM not inserted
    311: E,  # (U)SIM PIN required
    312: E,  # PH-(U)SIM PIN required
    313: E,  # (U)SIM failure
    314: R,  # (U)SIM busy (a few seconds after boot)
    315: E,  # (U)SIM wrong
    316: E,  # (U)SIM PUK required
    317: E,  # (U)SIM PIN2 required
    318: E,  # (U)SIM PUK2 required
    320: R,  # memory failure
    321: R,  # invalid memory index
    322: R,  # memory full
    330: E,  # SMSC address unknown
    331: R,  # no network service: this modem, later
    332: R,  # network timeout
    340: R,  # no +CNMA acknowledgement expected
    500: R,  # unknown error
}


def classify_cms(code: int) -> SendVerdict:
    """What a +CMS ERROR code means for the message (see the module docstring)."""
    verdict = CMS_VERDICTS.get(code)
    if verdict is not None:
        return verdict
    if 128 <= code <= 255:  # other TP-FCS values: TPDU / SME problems unless "SC" range
        return R if code >= 0xE0 else N
    return R  # other RP-causes, ME/TA errors and manufacturer codes: try again here later
