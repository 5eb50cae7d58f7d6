"""SMS-SUBMIT, SMS-DELIVER and SMS-STATUS-REPORT TPDUs (TS 23.040 9.2.2), as hex on the AT link.

On the AT interface (TS 27.005 PDU mode) a PDU is the SMSC address followed by the TPDU; the
length given to AT+CMGS and shown by +CMGR/+CMGL counts the TPDU octets only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from modem.emulator import userdata
from modem.emulator.fields import (
    DcsAlphabet,
    PduError,
    Reader,
    alphabet_of,
    decode_address,
    decode_sca,
    decode_timestamp,
    encode_address,
    encode_sca,
    encode_timestamp,
)
from modem.emulator.userdata import ConcatElement, UserData

log = logging.getLogger(__name__)

MTI_DELIVER = 0
MTI_SUBMIT = 1
MTI_STATUS_REPORT = 2

VPF_NONE = 0
VPF_ENHANCED = 1
VPF_RELATIVE = 2
VPF_ABSOLUTE = 3

__all__ = [
    "ConcatElement",
    "DcsAlphabet",
    "PduError",
    "SmsDeliver",
    "SmsStatusReport",
    "SmsSubmit",
    "decode_deliver",
    "decode_status_report",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "message_type",
]


@dataclass(frozen=True)
class SmsSubmit:
    destination: str  # "+84..." when the type of address is international, else as dialled
    user_data: UserData
    reference: int = 0  # TP-MR
    reject_duplicates: bool = False  # TP-RD
    status_report_request: bool = False  # TP-SRR
    reply_path: bool = False  # TP-RP
    validity_format: int = VPF_RELATIVE  # TP-VPF
    validity: bytes = b"\xa7"  # TP-VP as sent: 1 octet (relative) or 7 octets
    pid: int = 0
    dcs: int = 0
    smsc: str | None = None
    destination_toa: int | None = None

    @property
    def text(self) -> str:
        return self.user_data.text


@dataclass(frozen=True)
class SmsDeliver:
    sender: str
    user_data: UserData
    timestamp: datetime
    pid: int = 0
    dcs: int = 0
    smsc: str | None = None
    sender_toa: int | None = None
    more_messages: bool = False  # TP-MMS inverted: True means "more messages are waiting"
    status_report_indication: bool = False
    reply_path: bool = False

    @property
    def text(self) -> str:
        return self.user_data.text


@dataclass(frozen=True)
class SmsStatusReport:
    reference: int  # TP-MR of the submitted message
    recipient: str
    timestamp: datetime  # TP-SCTS: when the SMSC received the message
    discharge: datetime  # TP-DT: when it was delivered (or the attempt ended)
    status: int = 0  # TP-ST: 0 delivered, 0x20.. temporary, 0x40.. permanent failure
    smsc: str | None = None
    recipient_toa: int | None = None
    extra: bytes = field(default=b"", compare=False)


def message_type(pdu_hex: str, with_sca: bool = True) -> int:
    reader = Reader(bytes.fromhex(pdu_hex))
    if with_sca:
        decode_sca(reader)
    return reader.octet() & 0x03


def encode_submit(msg: SmsSubmit, with_sca: bool = True) -> tuple[str, int]:
    """Returns (hex PDU, TPDU length for AT+CMGS)."""
    udl, ud, udhi = userdata.encode(msg.user_data)
    first = (
        MTI_SUBMIT
        | (0x04 if msg.reject_duplicates else 0)
        | (msg.validity_format << 3)
        | (0x20 if msg.status_report_request else 0)
        | (0x40 if udhi else 0)
        | (0x80 if msg.reply_path else 0)
    )
    tpdu = bytearray([first, msg.reference & 0xFF])
    tpdu += encode_address(msg.destination, msg.destination_toa)
    tpdu += bytes([msg.pid, msg.dcs])
    if msg.validity_format != VPF_NONE:
        tpdu += msg.validity
    tpdu += bytes([udl]) + ud
    sca = encode_sca(msg.smsc) if with_sca else b""
    return (sca + tpdu).hex().upper(), len(tpdu)


def decode_submit(pdu_hex: str, with_sca: bool = True) -> SmsSubmit:
    try:
        data = bytes.fromhex(pdu_hex)
    except ValueError as exc:
        raise PduError("PDU is not hexadecimal") from exc
    reader = Reader(data)
    smsc = decode_sca(reader) if with_sca else None
    first = reader.octet()
    if first & 0x03 != MTI_SUBMIT:
        raise PduError(f"not an SMS-SUBMIT (TP-MTI {first & 3})")
    reference = reader.octet()
    destination, toa = decode_address(reader)
    pid = reader.octet()
    dcs = reader.octet()
    vpf = (first >> 3) & 0x03
    validity = b""
    if vpf == VPF_RELATIVE:
        validity = reader.take(1)
    elif vpf in (VPF_ABSOLUTE, VPF_ENHANCED):
        validity = reader.take(7)
    udl = reader.octet()
    ud = reader.rest()
    return SmsSubmit(
        destination=destination,
        user_data=userdata.decode(alphabet_of(dcs), bool(first & 0x40), udl, ud),
        reference=reference,
        reject_duplicates=bool(first & 0x04),
        status_report_request=bool(first & 0x20),
        reply_path=bool(first & 0x80),
        validity_format=vpf,
        validity=validity,
        pid=pid,
        dcs=dcs,
        smsc=smsc,
        destination_toa=toa,
    )


def encode_deliver(msg: SmsDeliver, with_sca: bool = True) -> tuple[str, int]:
    """Returns (hex PDU, TPDU length as +CMGR/+CMGL/+CMT show it)."""
    udl, ud, udhi = userdata.encode(msg.user_data)
    first = (
        MTI_DELIVER
        | (0 if msg.more_messages else 0x04)
        | (0x20 if msg.status_report_indication else 0)
        | (0x40 if udhi else 0)
        | (0x80 if msg.reply_path else 0)
    )
    tpdu = bytearray([first]) + encode_address(msg.sender, msg.sender_toa)
    tpdu += bytes([msg.pid, msg.dcs]) + encode_timestamp(msg.timestamp)
    tpdu += bytes([udl]) + ud
    sca = encode_sca(msg.smsc) if with_sca else b""
    return (sca + tpdu).hex().upper(), len(tpdu)


def decode_deliver(pdu_hex: str, with_sca: bool = True) -> SmsDeliver:
    reader = Reader(bytes.fromhex(pdu_hex))
    smsc = decode_sca(reader) if with_sca else None
    first = reader.octet()
    if first & 0x03 != MTI_DELIVER:
        raise PduError(f"not an SMS-DELIVER (TP-MTI {first & 3})")
    sender, toa = decode_address(reader)
    pid = reader.octet()
    dcs = reader.octet()
    timestamp = decode_timestamp(reader.take(7))
    udl = reader.octet()
    ud = reader.rest()
    return SmsDeliver(
        sender=sender,
        user_data=userdata.decode(alphabet_of(dcs), bool(first & 0x40), udl, ud),
        timestamp=timestamp,
        pid=pid,
        dcs=dcs,
        smsc=smsc,
        sender_toa=toa,
        more_messages=not first & 0x04,
        status_report_indication=bool(first & 0x20),
        reply_path=bool(first & 0x80),
    )


def encode_status_report(msg: SmsStatusReport, with_sca: bool = True) -> tuple[str, int]:
    tpdu = bytearray([MTI_STATUS_REPORT | 0x04, msg.reference & 0xFF])
    tpdu += encode_address(msg.recipient, msg.recipient_toa)
    tpdu += encode_timestamp(msg.timestamp) + encode_timestamp(msg.discharge)
    tpdu += bytes([msg.status]) + msg.extra
    sca = encode_sca(msg.smsc) if with_sca else b""
    return (sca + tpdu).hex().upper(), len(tpdu)


def decode_status_report(pdu_hex: str, with_sca: bool = True) -> SmsStatusReport:
    reader = Reader(bytes.fromhex(pdu_hex))
    smsc = decode_sca(reader) if with_sca else None
    first = reader.octet()
    if first & 0x03 != MTI_STATUS_REPORT:
        raise PduError(f"not an SMS-STATUS-REPORT (TP-MTI {first & 3})")
    reference = reader.octet()
    recipient, toa = decode_address(reader)
    timestamp = decode_timestamp(reader.take(7))
    discharge = decode_timestamp(reader.take(7))
    status = reader.octet()
    return SmsStatusReport(
        reference, recipient, timestamp, discharge, status, smsc, toa, extra=reader.rest()
    )
