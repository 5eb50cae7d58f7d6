"""An AT+CMGL=4 answer as the modem's reader thread delivers it: `modem.device_parse` sorts the
lines and splits the listing, then each entry's PDU is decoded, as `Device.list_stored` does.

Documented failures: none for the parsing (a bad entry comes back flagged), `PduDecodeError`
for a PDU. Invariant: an entry without a problem holds exactly SCA + the announced TPDU octets.
"""

from __future__ import annotations

from modem.device_parse import parse_cmgl, split_response, status_word
from modem.sms_pdu import PduDecodeError, decode_pdu, digest

MAX_LEN = 8192


def lines_of(data: bytes) -> list[str]:
    """Lines the way modem/gsm_fixes.py cuts and decodes them (CR LF, UTF-8 with replacement)."""
    return [line.decode("utf-8", errors="replace") for line in data.split(b"\r\n") if line.strip()]


def TestOneInput(data: bytes) -> None:
    resp = split_response(lines_of(data), "AT+CMGL=4", "+CMGL:")
    for entry in parse_cmgl(resp.info):
        status_word(entry.stat)
        digest(entry.pdu)
        if entry.problem is not None:
            continue
        octets = bytes.fromhex(entry.pdu)
        assert len(octets) == 1 + octets[0] + entry.length, entry
        try:
            decode_pdu(entry.pdu)
        except PduDecodeError:
            continue


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
