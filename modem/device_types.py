"""What modem/device.py returns: modem health, stored messages, status reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from modem.sms_pdu import Concat, StatusReportPdu


@dataclass(frozen=True)
class Health:
    signal_dbm: int | None
    signal_csq: int | None
    registered: bool
    roaming: bool
    operator: str | None
    sim: str
    imei: str | None
    imsi: str | None
    model: str | None


@dataclass(frozen=True)
class StoredSms:
    index: int
    memory: str
    status: str  # unread / read / unsent / sent
    pdu: str  # hex as read
    sender: str
    smsc_time: datetime  # aware; UNKNOWN_TIME when corrupt
    text: str
    concat: Concat | None
    digest: str  # sha256 of the PDU hex
    corrupt: bool = False  # PDU could not be decoded: kept raw, text "", never dropped silently
    problem: str | None = None
    direct: bool = False  # handed over as +CMT: nothing to delete (index -1, memory "")


@dataclass(frozen=True)
class StatusReport:
    reference: int  # TP-MR of the part it reports on
    recipient: str
    status: int  # TP-ST
    delivered: bool  # 0x00-0x1F: transaction completed
    final: bool  # False for 0x20-0x3F: the SMSC still tries
    discharge_time: datetime | None
    index: int | None  # storage index, None for a +CDS URC
    memory: str | None = None
    submitted: datetime | None = None  # TP-SCTS: when the SMSC took the part


def _report(rep: StatusReportPdu, index: int | None, memory: str | None) -> StatusReport:
    return StatusReport(
        reference=rep.reference,
        recipient=rep.recipient,
        status=rep.status,
        delivered=rep.status < 0x20,
        final=not 0x20 <= rep.status < 0x40,
        discharge_time=rep.discharge_time,
        index=index,
        memory=memory,
        submitted=rep.submitted,
    )
