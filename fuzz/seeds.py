"""Writes the seed corpora fuzz/corpus/<target>/ from the project's own encoders, so that each
seed is a well-formed input of the kind the target parses: `python -m fuzz.seeds`.

Seeds are small on purpose (libFuzzer mutates from them); they are versioned, and the suite runs
every target on them (tests/unit/test_fuzz_targets.py).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.core.codes import display_short_code, short_code
from gateway.receipts import code128, qr
from modem.emulator import pdu, userdata
from modem.emulator.fields import dcs_for
from modem.sms_pdu import encode_parts

CORPUS = Path(__file__).resolve().parent / "corpus"
WHEN = datetime(2024, 4, 23, 8, 30, 5, tzinfo=timezone(timedelta(hours=7)))
CODE = "000.00.20.H57-240423-0001"
SHORT = short_code(1)
SENDER = "+84987654321"


def deliver_pdus() -> list[str]:
    """SMS-DELIVER PDUs: GSM-7 with the extension table, UCS-2 with emoji, 8-bit, concatenated
    with 8- and 16-bit references, national and alphanumeric senders; one status report."""
    out: list[str] = []
    texts = [
        (f"HS {CODE}", 0, False, SENDER),
        ("Gia {tiền} [100€] ~ ^ | \\", 0, False, SENDER),
        ("Hồ sơ của tôi 😀👍🏽", 0, False, "0987654321"),
        ("Xin chao " * 20, 0x42, False, SENDER),
        ("Cảm ơn " * 12, 0x1234, True, SENDER),
        ("TRA", 0, False, "VIETTEL"),
    ]
    for text, ref, wide, sender in texts:
        for ud in userdata.split_text(text, ref, wide)[:2]:
            msg = pdu.SmsDeliver(sender, ud, WHEN, dcs=dcs_for(ud.alphabet), smsc="+84980200030")
            out.append(pdu.encode_deliver(msg)[0])
    octets = userdata.UserData("", pdu.DcsAlphabet.EIGHT_BIT, data=b"\x00\xffHS 1")
    out.append(pdu.encode_deliver(pdu.SmsDeliver(SENDER, octets, WHEN, dcs=0x04))[0])
    report = pdu.SmsStatusReport(7, "+84912345678", WHEN, WHEN + timedelta(seconds=5), 0x00)
    out.append(pdu.encode_status_report(report, with_sca=True)[0])
    failed = pdu.SmsStatusReport(200, "0912345678", WHEN, WHEN + timedelta(hours=1), 0x41)
    out.append(pdu.encode_status_report(failed)[0])
    return out


def _tpdu_length(pdu_hex: str) -> int:
    octets = bytes.fromhex(pdu_hex)
    return len(octets) - 1 - octets[0]


def sms_pdu() -> Iterable[bytes]:
    for p in deliver_pdus():
        yield b"\x01" + bytes.fromhex(p)  # as octets
    yield b"\x00" + deliver_pdus()[0].encode()  # as the modem types it
    yield b"\x00" + deliver_pdus()[0][:-5].encode() + b" 0G"


def cmgl() -> Iterable[bytes]:
    pdus = deliver_pdus()
    lines = ["AT+CMGL=4"]
    for i, p in enumerate(pdus[:4], start=1):
        lines += [f"+CMGL: {i},{i % 2},,{_tpdu_length(p)}", p]
    lines += ["^RSSI: 20", f'+CMGL: 9,1,"Nguyễn, A",{_tpdu_length(pdus[-1])}', pdus[-1], "OK"]
    yield "\r\n".join(lines).encode() + b"\r\n"
    missing = [f"+CMGL: 1,0,,{_tpdu_length(pdus[0])}", "+CMGL: 2,0,,25", pdus[1][:-8], "OK"]
    yield "\r\n".join(missing).encode() + b"\r\n"
    noisy = [f"+CMGL: 3,0,,{_tpdu_length(pdus[2])}", "\ufffdAB" + pdus[2], "~\x00#", "OK"]
    yield b"\xff\xfe" + "\r\n".join(noisy).encode() + b"\r\n"


def at_response() -> Iterable[bytes]:
    answers = [
        (0, "\r\nOK\r\n"),
        (1, "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
        (1, '\r\n+CSQ: 20,99\r\n+CMTI: "SM",3\r\n\r\nOK\r\n'),
        (2, "\r\n+CPIN: READY\r\n"),
        (2, "\r\n+CME ERROR: 10\r\n"),
        (3, "\r\n+CREG: 1\r\n+CREG: 1,5\r\n\r\nOK\r\n"),
        (4, '\r\n+COPS: 0,0,"Viettel",2\r\n\r\nOK\r\n'),
        (5, '\r\n+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")\r\n\r\nOK\r\n'),
        (7, "\r\n> "),
        (7, "\r\n+CMS ERROR: 330\r\n"),
        (8, "\r\n+CMGS: 17\r\n\r\nOK\r\n^BOOT: 20952066,0,0,0,72\r\n"),
        (8, "\r\n+CMS ERROR: SMSC address unknown\r\n"),
        (0, "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n\r\nOK\r\n"),
    ]
    for command, text in answers:
        yield bytes([command, 7]) + text.encode("latin-1")
    listing = next(iter(cmgl()))
    yield bytes([6, 13]) + listing
    yield bytes([6, 63]) + b"\r\n+CSQ: 20,99\r\n\x80\xff\r\n" + listing


def emulator() -> Iterable[bytes]:
    [ud] = userdata.split_text("HS 000.00.20.H57-240423-0001")
    submit = pdu.encode_submit(pdu.SmsSubmit("+84912345678", ud, status_report_request=True))[0]
    parts = encode_parts("0912345678", "Hồ sơ đã xong 😀 " * 6, concat_ref=0x1234)
    scripts = [
        b"AT\rATE0\rATI\rAT+CGMI;+CGMM;+CGSN;+CIMI\r",
        b"ATE0V1\rAT+CMEE=1\rAT+CPIN?\rAT+CMGF=0\rAT+CPMS=?\r"
        b'AT+CPMS="ME","ME","ME"\rAT+CNMI=2,1,0,2,0\rAT+CREG=1\rAT+COPS=3,0\r',
        b"AT+CMGF=0\rAT+CMGL=4\rAT+CMGR=1\rAT+CMGD=1\rAT+CMGD=0,4\r",
        b'AT+CMGF=1\rAT+CSDH=1\rAT+CMGL="ALL"\rAT+CMGR=2\r',
        b"AT+CMGF=0\rAT+CMGS=%d\r%s\x1a" % (_tpdu_length(submit), submit.encode()),
        b"".join(
            b"AT+CMGS=%d\r%s\x1a\xff" % (p.tpdu_length, p.pdu_hex.encode()) for p in parts[:2]
        ),
        b'AT+CMGF=1\rAT+CSMP=49,167,0,8\rAT+CSCS="UCS2"\r'
        b'AT+CMGS="002B00380034003900310032"\r0048006F\x1a',
        b'AT+CMGF=1\rAT+CSCS="HEX"\rAT+CSCA="2B3834"\rAT+CSCA?\rAT+CMGS="0912345678",129\rHi\x1a',
        b'AT+CMEE=2\rAT+CPIN="0000"\rAT+CSQ\rAT+CREG?\rAT+COPS?\rAT+CFUN=1,1\r',
        b"AT+CNMI=0,1,0,1,0\rAT+CMGS=20\r0011\x1b\rATS0=1\rATS3?\rA/AT&F\rAT+CLAC\r",
        b"AT+CMGS=?\rAT+CSCA?\rAT+CNMI?\rAT+CPMS?\rAT+CSMS=1\rAT+CNMA\rAT+COPS=?\r",
    ]
    for i, script in enumerate(scripts):
        yield bytes([i * 9 % 64]) + script


SCAN_TEXTS = [
    CODE,
    display_short_code(SHORT),
    SHORT.lower(),
    f"https://dichvucong.example.vn/tra-cuu?ma={CODE}",
    "ooo 00 20 h57 240423 OOO1",
    "not a code",
]


def scanner_serial() -> Iterable[bytes]:
    for terminator, sep in enumerate([b"\r", b"\r\n", b"\n", b"\t", b"\x00"]):
        yield bytes([terminator, 5]) + sep.join(t.encode() for t in SCAN_TEXTS) + sep


def scanner_line() -> Iterable[bytes]:
    yield "\n".join(SCAN_TEXTS).encode() + b"\n"
    yield f"  {CODE}\r\n\r\n\xa0{SHORT}\r\n".encode()


def _key_events(text: str) -> bytes:
    from scanner.evdev_source import KEY_ENTER, KEY_LEFTSHIFT, KEYMAP  # noqa: PLC0415

    keys: dict[str, tuple[int, bool]] = {}
    for code, (plain, shifted) in KEYMAP.items():
        keys.setdefault(plain, (code, False))
        keys.setdefault(shifted, (code, True))
    out = bytearray()
    for ch in text:
        code, shift = keys[ch]
        if shift:
            out += bytes([1, KEY_LEFTSHIFT, 1])
        out += bytes([1, code, 1, 1, code, 0])
        if shift:
            out += bytes([1, KEY_LEFTSHIFT, 0])
        out += bytes([0, 0, 0])  # SYN_REPORT
    out += bytes([1, KEY_ENTER, 1, 1, KEY_ENTER, 0])
    return bytes(out)


def scanner_evdev() -> Iterable[bytes]:
    yield b"\x00\x00" + _key_events(CODE) + _key_events(display_short_code(SHORT))
    yield b"\x04\x00" + _key_events(SHORT.lower()) + bytes([0, 3, 0]) + _key_events("ABC")


def _netpbm(img: object, magic: bytes) -> bytes:
    from PIL import Image  # noqa: PLC0415

    assert isinstance(img, Image.Image)
    mode = "L" if magic == b"P5" else "RGB"
    converted = img.convert(mode)
    header = b"%s\n# seed\n%d %d\n255\n" % (magic, converted.width, converted.height)
    return header + converted.tobytes()


def scanner_image() -> Iterable[bytes]:
    bars = code128.image(code128.encode(SHORT), 2, 12)
    yield _netpbm(bars, b"P5")
    yield _netpbm(bars.crop((0, 0, 120, 4)), b"P6")


def receipt_image() -> Iterable[bytes]:
    buffer = io.BytesIO()
    qr.image(qr.encode(qr.format_payload({qr.CODE_KEY: CODE, "MTT": SHORT})), 2).save(
        buffer, format="PNG"
    )
    yield buffer.getvalue()
    buffer = io.BytesIO()
    code128.image(code128.encode(SHORT), 2, 16).save(buffer, format="GIF")
    yield buffer.getvalue()
    yield b"GIF89a\x01\x00\x01\x00\x00\x00\x00"


def scan_payload() -> Iterable[bytes]:
    bodies = [
        {
            "station_id": "quay-1",
            "seq": 12,
            "code": CODE,
            "scanned_at": "2024-04-23T08:30:05+07:00",
        },
        {
            "station_id": "quay-1",
            "seq": 0,
            "code": display_short_code(SHORT),
            "scanned_at": "2024-04-23T01:30:05.250Z",
            "staff": "Nguyễn Văn  An",
        },
    ]
    for i, body in enumerate(bodies):
        yield bytes([i + 1]) + json.dumps(body, ensure_ascii=i == 0).encode()
    yield b'\x00{"station_id": "q", "seq": 1e400, "code": "x", "scanned_at": NaN}'


def sms_syntax() -> Iterable[bytes]:
    texts = [
        f"HS {CODE}",
        f"hs {display_short_code(SHORT).lower()} abcd-2345",
        "Chào anh, cho em hỏi hồ sơ 000.00.20.H57-240423-0001 đã xong chưa ạ?",
        "Hủy nhận tin",
        f"Đăng ký {CODE}",
        "dừng",
        "ＨＳ　ＰＡＺＣ－ＧＭ６",
        "TRA",
        "?",
    ]
    for text in texts:
        yield b"\x00" + text.encode()
    yield b"\x03" + texts[2].encode("utf-16-be")
    yield b"\x01" + f"HS {CODE}".encode("ascii")


SEEDS = {
    "sms_pdu": sms_pdu,
    "cmgl": cmgl,
    "at_response": at_response,
    "emulator": emulator,
    "scanner_serial": scanner_serial,
    "scanner_line": scanner_line,
    "scanner_evdev": scanner_evdev,
    "scanner_image": scanner_image,
    "receipt_image": receipt_image,
    "scan_payload": scan_payload,
    "sms_syntax": sms_syntax,
}


def write(corpus: Path = CORPUS) -> int:
    written = 0
    for target, make in SEEDS.items():
        folder = corpus / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in make():
            (folder / f"seed-{hashlib.sha256(data).hexdigest()[:12]}").write_bytes(data)
            written += 1
    return written


if __name__ == "__main__":
    print(f"{write()} seeds written under {CORPUS}")
