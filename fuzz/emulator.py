"""The emulated modem's AT interpreter fed raw bytes by the host (`modem.emulator.device`).

The device model must answer anything with a result code (ERROR, +CME/+CMS ERROR), never raise:
a crash here kills a pty modem under every client. The bytes go in as typed, in pieces, with time
passing between them so that sends complete, status reports come back and reboots happen; two
stored messages (one SMS-DELIVER, one status report) give +CMGL/+CMGR something to show.
Documented failures: none.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from modem.emulator import pdu
from modem.emulator.device import EmulatedModem
from modem.emulator.ledger import Ledger, Sent
from modem.emulator.schedule import ManualScheduler
from modem.emulator.state import DeviceConfig, MsgStat, Quirks, StoredPdu, UrcMode

MAX_LEN = 4096
NOW = datetime(2024, 4, 23, 8, 30, tzinfo=timezone(timedelta(hours=7)))


def _device(flags: int, out: bytearray) -> tuple[EmulatedModem, ManualScheduler]:
    clock = ManualScheduler()
    config = DeviceConfig(
        urc_mode=UrcMode.POLITE if flags & 1 else UrcMode.REALISTIC,
        latency=0.5 if flags & 2 else 0.0,
        status_report_delay=1.0,
        seed=flags,
        quirks=Quirks(
            echo_stuck=bool(flags & 4),
            cpin_without_ok=bool(flags & 8),
            vendor_urc_interval=3.0 if flags & 16 else 0.0,
            urc_in_response=bool(flags & 32),
        ),
    )
    ledger = Ledger()

    def sent(part: Sent) -> None:
        ledger.record_part(part)  # assembles the parts as the emulator's ledger file does

    dev = EmulatedModem("fuzz", config, out.extend, clock, on_sent=sent, wall=lambda: NOW)
    dev.boot()
    dev.inject_sms("+84912345678", "HS 000.00.20.H57-240423-0001 Hồ sơ 😀", when=NOW)
    report = pdu.SmsStatusReport(7, "+84912345678", NOW, NOW + timedelta(seconds=5), 0)
    hex_pdu, length = pdu.encode_status_report(report)
    memory = dev.storage.memories["SM"]
    index = memory.free_index()
    assert index is not None
    memory.slots[index] = StoredPdu(MsgStat.REC_UNREAD, hex_pdu, length, report=True)
    return dev, clock


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    out = bytearray()
    dev, clock = _device(data[0], out)
    # 0xFF splits the input into separate writes, with a second of modem time after each
    for piece in data[1:].split(b"\xff"):
        dev.feed(piece)
        clock.advance(1.0)
    clock.advance(10.0)  # pending sends, status reports, a reset's reboot
    dev.feed(b"\x1b\rAT\r")
    clock.advance(1.0)


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
