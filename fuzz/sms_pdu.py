"""SMS PDUs as a modem hands them over (+CMGR, +CMGL, +CDS): `modem.sms_pdu.decode_pdu`.

Bytes in are either the PDU's octets (first input byte odd: they are sent as hex, the usual
case) or the line as the modem typed it (even: latin-1 text, hex or not). Documented failure:
`PduDecodeError`. Invariants: the text of an SMS-DELIVER is valid Unicode (it goes to Redis as
UTF-8 as it is), times are aware, a concatenation header is in range.
"""

from __future__ import annotations

from modem.sms_pdu import Deliver, PduDecodeError, StatusReportPdu, decode_pdu, digest

MAX_LEN = 1024


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    pdu_hex = body.hex().upper() if data[0] & 1 else body.decode("latin-1")
    digest(pdu_hex)
    try:
        decoded = decode_pdu(pdu_hex)
    except PduDecodeError:
        return
    if isinstance(decoded, Deliver):
        decoded.text.encode("utf-8")  # raises on a lone surrogate
        decoded.sender.encode("utf-8")
        assert decoded.smsc_time.utcoffset() is not None
        if decoded.concat is not None:
            assert 0 <= decoded.concat.ref <= 0xFFFF
            assert 0 <= decoded.concat.seq <= 255
            assert 0 <= decoded.concat.total <= 255
    else:
        assert isinstance(decoded, StatusReportPdu)
        assert 0 <= decoded.reference <= 255
        assert 0 <= decoded.status <= 255
        assert decoded.submitted.utcoffset() is not None
        decoded.recipient.encode("utf-8")


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
