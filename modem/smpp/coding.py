"""What hoso's SMS look like in SMPP 3.4 PDUs, both ways (pure: no I/O, no clock).

Outbound (`encode`): the text is split as for the air (gateway/core/sms_text.py `split_parts`:
NFC; GSM-7 when every character is in the default alphabet or its extension, else UCS-2 as UTF-16
with surrogate pairs kept whole; 160/70 units in one message, 153/67 per part), then written the
way the link is configured: data_coding 0 (GSM-7, one septet per octet, or packed 8 septets in 7
octets) or 8 (UCS-2); a long text as parts with a user data header (esm_class 0x40, IEI 00, 8-bit
reference), as parts with the SAR TLVs, or whole in message_payload.

Inbound (`read_deliver`): a deliver_sm is a delivery receipt (esm_class message type 0x04 or 0x20,
or a receipted_message_id TLV: the id and state from the TLVs, else from the receipt text of
SMPP 3.4 appendix B) or a citizen's SMS (text decoded by data_coding; parts of a long one carry
their reference, count and number from the UDH or the SAR TLVs, for the inbox to reassemble).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.errors import InvalidPhone
from gateway.core.phones import normalise_phone
from gateway.core.sms_text import split_parts
from modem.sms_pdu import gsm7_septets, gsm7_text, pack_septets, split_text, udh_concat

DC_GSM7 = 0x00
DC_ASCII = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40
ESM_RECEIPT = 0x04  # message type: SMSC delivery receipt
ESM_INTERMEDIATE = 0x20  # message type: intermediate delivery notification
CR = 0x0D
MAX_PAYLOAD = 64_000  # message_payload is at most 64K octets

# message_state values (SMPP 3.4 5.2.28) and the receipt text's stat: words.
STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
DELIVERED = frozenset({"DELIVRD"})
FAILED = frozenset({"EXPIRED", "DELETED", "UNDELIV", "REJECTD"})


@dataclass(frozen=True, slots=True)
class SubmitPart:
    """One submit_sm: its short_message (or message_payload), coding and segmentation."""

    short_message: bytes
    data_coding: int
    esm_class: int
    seq: int  # from 1
    total: int
    text: str  # the part's text (what a receipt's text: field starts with)
    sar: tuple[int, int, int] | None = None  # (reference, total, sequence number)
    payload: bytes | None = None  # message_payload (short_message is then empty)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    message_id: str
    state: str  # DELIVRD, UNDELIV... (STATES' words)
    recipient: str  # the SMS's destination, as the SMSC wrote it (E.164 when it is a number)
    text: str  # the receipt's text: field ("" when absent)
    error: str

    @property
    def final(self) -> bool:
        return self.state in DELIVERED or self.state in FAILED

    @property
    def delivered(self) -> bool:
        return self.state in DELIVERED


@dataclass(frozen=True, slots=True)
class MobileOriginated:
    sender: str  # E.164 when it is a number, else as written (an alphanumeric sender)
    recipient: str  # the short code or number the citizen wrote to
    text: str
    concat: tuple[int, int, int] | None  # (reference, total, sequence number from 1)


class UndecodableDeliver(ValueError):
    """A deliver_sm whose user data header runs past its short_message."""


# -- addresses ---------------------------------------------------------------------------------


def phone_or_raw(address: str) -> str:
    """An address as E.164 where it is a Vietnamese or international number, else unchanged."""
    try:
        return normalise_phone(address)
    except InvalidPhone:
        return address


def destination(e164: str, number_format: str) -> str:
    """The destination_addr the carrier wants: 84xxxxxxxxx (international) or 0xxxxxxxxx."""
    digits = e164.removeprefix("+")
    if number_format == "national" and digits.startswith("84"):
        return "0" + digits[2:]
    return digits


def source_ton_npi(source: str, ton: int | None, npi: int | None) -> tuple[int, int]:
    """A short code (digits) is TON 3 (network specific), a brandname TON 5 (alphanumeric);
    NPI 0 (unknown) for both; the link's settings override either."""
    default_ton = 3 if source.isdigit() else 5
    return (default_ton if ton is None else ton, 0 if npi is None else npi)


# -- outbound ----------------------------------------------------------------------------------


def _gsm7(chunk: str, packed: bool, header: bytes) -> bytes:
    septets = gsm7_septets(chunk)
    if not packed:
        return header + bytes(septets)
    fill = (7 - (len(header) * 8) % 7) % 7 if header else 0
    if (len(header) * 8 + fill + 7 * len(septets)) % 8 == 1:
        septets.append(CR)  # 7 spare bits would read as '@': TS 23.038 6.1.2.3.1 fills with CR
    return header + pack_septets(septets, fill)


def encode(
    text: str, *, long: str = "udh", coding: str = "auto", packed: bool = False, concat_ref: int = 0
) -> list[SubmitPart]:
    """The submit_sm user data of `text`, by the link's `long` ("udh", "sar", "payload"),
    `coding` ("auto", "ucs2") and `packed` settings; `concat_ref` (0-255) ties the parts."""
    text = unicodedata.normalize("NFC", text)
    alphabet, chunks = split_text(text)
    if coding == "ucs2" and alphabet == "gsm7":
        alphabet, chunks = split_parts(text, ucs2=True)
    dc = DC_UCS2 if alphabet == "ucs2" else DC_GSM7

    def body(chunk: str, header: bytes = b"") -> bytes:
        return header + chunk.encode("utf-16-be") if dc == DC_UCS2 else _gsm7(chunk, packed, header)

    if long == "payload" and len(chunks) > 1:
        payload = body(text)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"text of {len(payload)} octets is longer than message_payload allows")
        return [SubmitPart(b"", dc, 0, 1, 1, text, payload=payload)]
    total = len(chunks)
    if total == 1:
        return [SubmitPart(body(chunks[0]), dc, 0, 1, 1, chunks[0])]
    ref = concat_ref & 0xFF
    parts = []
    for seq, chunk in enumerate(chunks, start=1):
        if long == "sar":
            parts.append(SubmitPart(body(chunk), dc, 0, seq, total, chunk, sar=(ref, total, seq)))
        else:
            header = bytes([0x05, 0x00, 0x03, ref, total, seq])
            parts.append(SubmitPart(body(chunk, header), dc, ESM_UDHI, seq, total, chunk))
    return parts


# -- inbound -----------------------------------------------------------------------------------


def decode_text(data_coding: int, octets: bytes, packed: bool = False, udh_length: int = 0) -> str:
    """The text of user data (after its header of `udh_length` octets) by SMPP data_coding."""
    body = octets[udh_length:]
    if data_coding == DC_UCS2 or (data_coding & 0xF0 == 0 and data_coding & 0x0C == 0x08):
        # A lone surrogate (garbage, or a pair split by the sender) becomes U+FFFD.
        return body[: len(body) & ~1].decode("utf-16-be", "replace")
    if data_coding == DC_ASCII:
        return body.decode("ascii", "replace")
    if data_coding == DC_GSM7 or data_coding & 0xF4 == 0xF0:
        if packed:
            return _unpacked_text(octets, udh_length)
        if all(b < 0x80 for b in body):
            return gsm7_text(list(body))
    return body.decode("latin-1")  # DC_LATIN1, 8-bit data, or an SMSC default alphabet of latin-1


def _unpacked_text(octets: bytes, udh_length: int) -> str:
    bits = len(octets) * 8
    septets_all = [(int.from_bytes(octets, "little") >> (7 * i)) & 0x7F for i in range(bits // 7)]
    if septets_all and bits % 7 == 0 and septets_all[-1] == CR:
        septets_all.pop()  # the CR filling 7 spare bits
    skip = -(-(udh_length * 8) // 7) if udh_length else 0  # the header and its fill bits
    return gsm7_text(septets_all[skip:])


_RECEIPT_FIELD = re.compile(
    r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)|\btext:(.*)$", re.S
)


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of a receipt text (SMPP 3.4 appendix B): id, sub, dlvrd, submit date, done
    date, stat, err, text; keys lower case, missing fields absent."""
    fields: dict[str, str] = {}
    for match in _RECEIPT_FIELD.finditer(text):
        if match.group(1):
            fields.setdefault(match.group(1).lower(), match.group(2))
        else:
            fields.setdefault("text", match.group(3))
    return fields


def read_deliver(
    fields: Mapping[str, object], packed: bool = False
) -> DeliveryReceipt | MobileOriginated:
    """A deliver_sm (its fields by SMPP name; octet strings as bytes) as a receipt or an SMS."""
    esm_class = _int(fields.get("esm_class"))
    data_coding = _int(fields.get("data_coding"))
    short = _octets(fields.get("short_message"))
    receipted = _octets(fields.get("receipted_message_id")).decode("latin-1").strip("\0 ")
    message_type = esm_class & 0x3C
    if receipted or message_type in (ESM_RECEIPT, ESM_INTERMEDIATE):
        parsed = parse_receipt_text(short.decode("latin-1"))
        state = fields.get("message_state")
        if isinstance(state, int) and state in STATES:
            word = STATES[state]
        else:
            word = parsed.get("stat", "UNKNOWN").upper()
        return DeliveryReceipt(
            message_id=receipted or parsed.get("id", ""),
            state=word,
            recipient=phone_or_raw(_text(fields.get("source_addr"))),
            text=parsed.get("text", ""),
            error=parsed.get("err", ""),
        )
    payload = _octets(fields.get("message_payload"))
    octets = payload or short
    udh_length = 0
    concat = None
    if esm_class & ESM_UDHI and octets:
        udh_length = octets[0] + 1
        if udh_length > len(octets):
            raise UndecodableDeliver("user data header longer than the user data")
        found = udh_concat(octets[1:udh_length])
        if found is not None:
            concat = (found.ref, found.total, found.seq)
    sar = [fields.get(k) for k in ("sar_msg_ref_num", "sar_total_segments", "sar_segment_seqnum")]
    if concat is None and all(isinstance(v, int) for v in sar):
        ref, total, seq = (int(v) for v in sar)  # type: ignore[call-overload]
        if total > 1:
            concat = (ref, total, seq)
    return MobileOriginated(
        sender=phone_or_raw(_text(fields.get("source_addr"))),
        recipient=_text(fields.get("destination_addr")),
        text=decode_text(data_coding, octets, packed, udh_length),
        concat=concat,
    )


def deliver_digest(link: str, fields: Mapping[str, object], window: int) -> str:
    """The same deliver_sm sent again by the SMSC (its answer was lost) has the same digest within
    one time `window` number; the sequence number is left out, it changes on a resend."""
    h = hashlib.sha256(f"{link}\n{window}\n".encode())
    for key in (
        "source_addr",
        "destination_addr",
        "esm_class",
        "data_coding",
        "short_message",
        "message_payload",
        "sar_msg_ref_num",
        "sar_total_segments",
        "sar_segment_seqnum",
    ):
        value = fields.get(key)
        h.update(key.encode() + b"=" + (value if isinstance(value, bytes) else str(value).encode()))
        h.update(b"\n")
    return h.hexdigest()


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _octets(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    return b""


def _text(value: object) -> str:
    return _octets(value).decode("latin-1").strip("\0")
