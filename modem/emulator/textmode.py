"""Text mode (AT+CMGF=1) of TS 27.005: TE character sets (+CSCS) and the text-mode layouts.

Lines on the wire are handled as latin-1 strings (one char per byte); this module converts
between those and real text according to the TE character set.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from modem.emulator import gsm7, pdu
from modem.emulator.fields import TOA_INTERNATIONAL, TOA_UNKNOWN, DcsAlphabet, alphabet_of
from modem.emulator.userdata import UserData

log = logging.getLogger(__name__)

CHARSETS = ("GSM", "IRA", "UCS2", "HEX", "8859-1")


def te_decode(wire: str, cscs: str) -> str:
    """Text as the TE typed it (latin-1 wire string) to real text."""
    if cscs == "UCS2":
        return gsm7.decode_ucs2(bytes.fromhex(wire))
    if cscs == "HEX":
        return gsm7.decode(bytes.fromhex(wire))
    if cscs == "UTF-8":
        return wire.encode("latin-1").decode("utf-8", errors="replace")
    return wire


def te_encode(text: str, cscs: str) -> str:
    """Real text to what the modem writes on the wire (latin-1 string)."""
    if cscs == "UCS2":
        return gsm7.encode_ucs2(text).hex().upper()
    if cscs == "HEX":
        septets = gsm7.encode("".join(c if gsm7.is_gsm7(c) else "?" for c in text))
        return bytes(septets).hex().upper()
    if cscs == "UTF-8":
        return text.encode("utf-8").decode("latin-1")
    return text.encode("latin-1", errors="replace").decode("latin-1")


def body_on_wire(user_data: UserData, cscs: str) -> str:
    """A message body as text mode shows it: UCS-2 and 8-bit bodies come out as hex."""
    if user_data.alphabet is DcsAlphabet.EIGHT_BIT:
        return user_data.data.hex().upper()
    if user_data.alphabet is DcsAlphabet.UCS2 and cscs != "UCS2":
        return gsm7.encode_ucs2(user_data.text).hex().upper()
    return te_encode(user_data.text, cscs)


def format_scts(when: datetime) -> str:
    """ "yy/MM/dd,hh:mm:ss+zz" with the zone in quarter hours."""
    quarters = int((when.utcoffset() or timedelta(0)).total_seconds()) // 900
    sign = "-" if quarters < 0 else "+"
    return when.strftime("%y/%m/%d,%H:%M:%S") + f"{sign}{abs(quarters):02d}"


def toa_of(number: str) -> int:
    return TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN


def deliver_header(
    prefix: str, msg: pdu.SmsDeliver, stat: str | None, cscs: str, csdh: int, length: int
) -> str:
    """+CMGR / +CMGL / +CMT header for an SMS-DELIVER (stat None for +CMT)."""
    oa = te_encode(msg.sender, cscs)
    fields = [f'"{stat}"'] if stat is not None else []
    fields += [f'"{oa}"', "", f'"{format_scts(msg.timestamp)}"']
    if csdh:
        first = 0x04 | (0x40 if msg.user_data.concat else 0)
        sca = te_encode(msg.smsc or "", cscs)
        fields += [
            str(msg.sender_toa or toa_of(msg.sender)),
            str(first),
            str(msg.pid),
            str(msg.dcs),
            f'"{sca}"',
            str(toa_of(msg.smsc or "")),
            str(length),
        ]
        if prefix == "+CMGL":  # +CMGL shows only <tooa>,<length> as extra fields
            fields = [*fields[:4], fields[4], fields[-1]]
    return f"{prefix}: " + ",".join(fields)


def report_fields(rep: pdu.SmsStatusReport, cscs: str) -> str:
    """<fo>,<mr>,<ra>,<tora>,<scts>,<dt>,<st> of a status report in text mode."""
    ra = te_encode(rep.recipient, cscs)
    return ",".join(
        [
            "6",
            str(rep.reference),
            f'"{ra}"',
            str(rep.recipient_toa or toa_of(rep.recipient)),
            f'"{format_scts(rep.timestamp)}"',
            f'"{format_scts(rep.discharge)}"',
            str(rep.status),
        ]
    )


def text_to_user_data(text: str, dcs: int) -> UserData:
    """Text typed in text mode, coded per the +CSMP data coding scheme (no segmentation)."""
    alphabet = DcsAlphabet.UCS2 if alphabet_of(dcs) is DcsAlphabet.UCS2 else DcsAlphabet.GSM7
    if alphabet is DcsAlphabet.GSM7:
        text = "".join(c if gsm7.is_gsm7(c) else "?" for c in text)
    return UserData(text, alphabet)
