"""modem.device.Device driven over ptys against the emulator, through real python-gsmmodem."""

from __future__ import annotations

import os
import pty
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modem.device import Device, encode_parts
from modem.emulator.bank import Bank
from modem.emulator.state import DeviceConfig, MsgStat, SimState, StoredPdu
from modem.errors import ModemUnavailable, PinRequired, SendFailed, SendVerdict
from modem.gsm_fixes import FixedSerialComms

pytestmark = pytest.mark.timeout(30)

DOSSIER = unicodedata.normalize("NFC", "Hồ sơ 000.00.20.H57-240423-0001 đã được tiếp nhận")
TO = "+84912345678"
FROM = "+84987654321"

DeviceFactory = Callable[..., Device]


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", ["m1"], status_report_delay=None, fresh_ledger=True) as b:
        yield b


@pytest.fixture
def open_device(bank: Bank) -> Iterator[DeviceFactory]:
    opened: list[Device] = []

    def make(connect: bool = True, **kw: object) -> Device:
        kw.setdefault("command_timeout", 2.0)
        kw.setdefault("send_timeout", 3.0)
        device = Device(str(bank.port("m1")), **kw)  # type: ignore[arg-type]
        opened.append(device)
        if connect:
            device.connect()
        return device

    yield make
    for device in opened:
        device.close()


def send_text(device: Device, text: str, to: str = TO, **kw: object) -> list[int]:
    return [device.send(p) for p in encode_parts(to, text, concat_ref=42, **kw)]  # type: ignore[arg-type]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)


# ------------------------------------------------------------------ connect, health, send


def test_connect_sets_stored_delivery_and_health_reads_the_modem(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    settings = bank.device("m1").settings
    assert (settings.cmgf, settings.cmee, settings.cnmi, settings.echo) == (
        0,
        1,
        (2, 1, 0, 2, 0),
        False,
    )
    health = device.health()
    assert health.signal_csq == 20
    assert health.signal_dbm == -73
    assert (health.registered, health.roaming, health.operator, health.sim) == (
        True,
        False,
        "Viettel",
        "READY",
    )
    assert (health.imei, health.imsi, health.model) == (
        "861234567890123",
        "452040123456789",
        "UC20",
    )
    assert device.alive()
    assert device.ping()
    device.close()
    device.close()
    assert not device.alive()


def test_gsm7_send_is_one_part_on_the_ledger(bank: Bank, open_device: DeviceFactory) -> None:
    refs = send_text(open_device(), "Ho so HS-001 da duoc tiep nhan")
    [sent] = bank.sent("m1")
    assert (sent.to, sent.text, sent.encoding, sent.parts, sent.refs) == (
        TO,
        "Ho so HS-001 da duoc tiep nhan",
        "gsm7",
        1,
        tuple(refs),
    )
    assert sent.status_report
    assert not sent.reject_duplicates


@pytest.mark.parametrize("text", [DOSSIER, "Cảm ơn bạn 😀👍🏽 🇻🇳"])
def test_ucs2_send_arrives_with_exact_text(
    bank: Bank, open_device: DeviceFactory, text: str
) -> None:
    send_text(open_device(), text, to="0912345678")
    [sent] = bank.sent("m1")
    assert (sent.to, sent.text, sent.encoding, sent.parts) == ("0912345678", text, "ucs2", 1)


def test_three_part_send_is_reassembled_with_reject_duplicates(
    bank: Bank, open_device: DeviceFactory
) -> None:
    text = "Thong bao ho so 000.00.20.H57-240423-0001. " * 9
    refs = send_text(open_device(), text, reject_duplicates=True)
    [whole] = bank.sent("m1")
    assert (whole.text, whole.parts, whole.refs, whole.concat_ref) == (text, 3, tuple(refs), 42)
    parts = bank.sent("m1", parts=True)
    assert [p.part for p in parts] == [1, 2, 3]
    assert all(p.reject_duplicates for p in parts)


def test_status_reports_are_stored_listed_and_deleted(
    bank: Bank, open_device: DeviceFactory
) -> None:
    bank.device("m1").config.status_report_delay = 0.05
    device = open_device()
    [mr] = send_text(device, "HS 1")
    wait_until(lambda: bool(device.status_reports()))
    [report] = device.status_reports()
    assert (report.reference, report.recipient, report.delivered, report.final) == (
        mr,
        TO,
        True,
        True,
    )
    assert device.list_stored() == []  # reports are not messages
    device.delete_report(report)
    assert device.status_reports() == []
    assert any(u.startswith("+CDSI:") for u in device.drain_urcs())


# ------------------------------------------------------------------ storage


def test_list_stored_shows_every_message_and_deletes_nothing(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    long = "Xin chao " * 20
    for text in ("HS 123 abc", DOSSIER, "TRA 😀", long):
        bank.inject_sms("m1", FROM, text)
    first = device.list_stored()
    assert device.list_stored() == [
        type(m)(**{**vars(m), "status": "read"}) for m in first
    ]  # listing twice sees the same messages, now read
    assert [m.text for m in first[:3]] == ["HS 123 abc", DOSSIER, "TRA 😀"]
    assert "".join(m.text for m in first[3:]) == long
    assert [(m.concat.seq, m.concat.total) for m in first[3:] if m.concat] == [(1, 2), (2, 2)]
    assert first[3].concat is not None
    assert first[4].concat is not None
    assert first[3].concat.ref == first[4].concat.ref
    assert {m.sender for m in first} == {FROM}
    assert all(m.smsc_time.tzinfo is not None and not m.corrupt for m in first)
    assert len({m.digest for m in first}) == 5
    assert bank.device("m1").storage.memories["ME"].used == 5


def test_a_corrupt_pdu_is_listed_raw_and_does_not_shift_the_next_index(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    bank.inject_sms("m1", FROM, "before")
    bank.device("m1").storage.memories["ME"].slots[2] = StoredPdu(
        MsgStat.REC_UNREAD, "07914850", 30
    )
    bank.inject_sms("m1", FROM, "after")
    listed = device.list_stored()
    assert [(m.index, m.text, m.corrupt) for m in listed] == [
        (1, "before", False),
        (2, "", True),
        (3, "after", False),
    ]
    assert listed[1].pdu == "07914850"
    assert listed[1].problem


def test_delete_removes_only_that_index(bank: Bank, open_device: DeviceFactory) -> None:
    device = open_device()
    bank.inject_sms("m1", FROM, "one")
    bank.inject_sms("m1", FROM, "two")
    one, two = device.list_stored()
    device.delete(one.index, one.memory)
    assert [m.text for m in device.list_stored()] == ["two"]
    assert two.memory == "ME"


def test_messages_left_on_the_sim_memory_are_listed_too(
    bank: Bank, open_device: DeviceFactory
) -> None:
    bank.device("m1").storage.mem3 = "SM"  # arrived before we moved new messages to ME
    bank.inject_sms("m1", FROM, "old one")
    device = open_device()
    bank.inject_sms("m1", FROM, "new one")
    listed = device.list_stored()
    assert sorted((m.memory, m.text) for m in listed) == [("ME", "new one"), ("SM", "old one")]
    [old] = [m for m in listed if m.memory == "SM"]
    device.delete(old.index, old.memory)
    assert [m.text for m in device.list_stored()] == ["new one"]


def test_messages_arriving_while_listing_and_deleting_are_not_lost(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    texts = [f"HS {n}" for n in range(40)]
    done = threading.Event()

    def inject() -> None:
        for text in texts:
            bank.inject_sms("m1", FROM, text)
            time.sleep(0.002)
        done.set()

    injector = threading.Thread(target=inject)
    injector.start()
    seen: list[str] = []
    while True:
        finished = done.is_set()
        for msg in device.list_stored():  # persist first, then delete by index
            seen.append(msg.text)
            device.delete(msg.index, msg.memory)
        if finished:
            break
    injector.join()
    assert sorted(seen) == sorted(texts)


# ------------------------------------------------------------------ realistic URCs


def test_cmti_burst_during_a_send_is_kept_and_the_send_succeeds(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    bank.set_latency(0.2)
    long = "Tra cuu ho so " * 30  # 3 parts: a burst of three +CMTI

    def inject_while_sending() -> None:
        wait_until(lambda: bank.device("m1").sending)
        bank.inject_sms("m1", FROM, long)

    helper = threading.Thread(target=inject_while_sending)
    helper.start()
    [mr] = send_text(device, "HS 1")
    helper.join()
    assert bank.sent("m1")[0].refs == (mr,)
    assert sum(u.startswith("+CMTI:") for u in device.drain_urcs()) == 3
    assert "".join(m.text for m in device.list_stored()) == long


def test_vendor_urcs_inside_responses_and_stuck_echo_are_not_misparsed(
    bank: Bank, open_device: DeviceFactory
) -> None:
    bank.set_quirks("m1", echo_stuck=True, vendor_urc_interval=0.005, urc_in_response=True)
    device = open_device()
    assert bank.device("m1").settings.echo  # ATE0 did not take
    for n in range(5):
        bank.inject_sms("m1", FROM, f"HS {n} {DOSSIER}")
        assert device.health().operator == "Viettel"
        send_text(device, f"Da nhan {n} 😀")
    listed = device.list_stored()
    assert [m.text for m in listed] == [f"HS {n} {DOSSIER}" for n in range(5)]
    assert [s.text for s in bank.sent("m1")] == [f"Da nhan {n} 😀" for n in range(5)]
    # The quirk was really on: a vendor URC waiting at the modem comes out inside the next
    # response and is set aside as a URC, not read as part of the answer.
    device.drain_urcs()
    wait_until(lambda: bank.device("m1").mid_response_pending() > 0)
    assert device.health().operator == "Viettel"
    assert any(u.startswith(("^", "+QIND")) for u in device.drain_urcs())


# ------------------------------------------------------------------ faults


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (8, SendVerdict.QUARANTINE),
        (41, SendVerdict.QUARANTINE),
        (28, SendVerdict.NEVER),
        (330, SendVerdict.RETRY_ELSEWHERE),
        (331, SendVerdict.RETRY_HERE),
        (500, SendVerdict.RETRY_HERE),
    ],
)
def test_cms_errors_on_send_carry_their_verdict(
    bank: Bank, open_device: DeviceFactory, code: int, verdict: SendVerdict
) -> None:
    device = open_device()
    bank.fail_sends("m1", 1.0, [code])
    with pytest.raises(SendFailed) as failed:
        send_text(device, "HS 1")
    assert (failed.value.code, failed.value.verdict) == (code, verdict)
    bank.clear_faults("m1")
    send_text(device, "HS 1")
    assert len(bank.sent("m1")) == 1


def test_hung_modem_fails_ping_and_send_within_the_timeouts(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device(command_timeout=0.4, send_timeout=0.4)
    bank.hang("m1")
    started = time.monotonic()
    assert not device.ping(timeout=0.2)
    with pytest.raises((SendFailed, ModemUnavailable)) as failed:
        send_text(device, "HS 1")
    if isinstance(failed.value, SendFailed):
        assert (failed.value.code, failed.value.verdict) == (None, SendVerdict.RETRY_HERE)
    assert time.monotonic() - started < 2.0
    bank.hang("m1", False)
    assert device.ping()
    send_text(device, "HS 2")
    assert [s.text for s in bank.sent("m1")] == ["HS 2"]


def test_send_timeout_writes_esc_and_the_next_commands_are_in_sync(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device(send_timeout=0.2)
    bank.set_latency(0.5)
    started = time.monotonic()
    with pytest.raises(SendFailed) as failed:
        send_text(device, "slow")
    assert time.monotonic() - started < 1.0
    assert (failed.value.code, failed.value.verdict) == (None, SendVerdict.RETRY_HERE)
    bank.set_latency(0.0)
    # The network takes it after all: the late +CMGS arrives as a stray line.
    wait_until(lambda: [s.text for s in bank.sent("m1")] == ["slow"])
    assert device.health().operator == "Viettel"
    [mr] = send_text(device, "fast")
    assert [s.text for s in bank.sent("m1")] == ["slow", "fast"]
    assert bank.sent("m1")[1].refs == (mr,)


def test_unplug_makes_the_device_unavailable_and_a_new_connect_works_after_replug(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    bank.unplug("m1")
    wait_until(lambda: not device.alive())
    assert not device.ping()
    with pytest.raises(ModemUnavailable):
        send_text(device, "HS 1")
    with pytest.raises(ModemUnavailable):
        device.connect()
    bank.replug("m1")
    device.connect()
    send_text(device, "after replug")
    assert [s.text for s in bank.sent("m1")] == ["after replug"]


def test_a_command_waiting_for_its_answer_ends_as_soon_as_the_modem_is_unplugged(
    bank: Bank, open_device: DeviceFactory
) -> None:
    """A command may wait long for a slow modem (listing the SIM: 30 s); a modem pulled out
    meanwhile ends the wait at once (the modem service marks the modem down then, not half a
    minute later)."""
    device = open_device(command_timeout=30.0)
    bank.hang("m1")  # the modem takes the command and never answers
    ended: list[BaseException] = []
    started = threading.Event()

    def listing() -> None:
        started.set()
        try:
            device.list_stored()
        except BaseException as exc:  # what ended it is the finding
            ended.append(exc)

    waiter = threading.Thread(target=listing, daemon=True)
    waiter.start()
    started.wait()
    time.sleep(0.3)  # the AT+CMGL written and waiting
    bank.unplug("m1")
    waiter.join(10.0)  # a third of the command's 30 s
    assert not waiter.is_alive(), "the listing still waits for a modem that is gone"
    assert len(ended) == 1, ended
    assert isinstance(ended[0], ModemUnavailable), ended


def test_invalid_bytes_do_not_kill_the_reader(bank: Bank, open_device: DeviceFactory) -> None:
    device = open_device()
    bank.inject_bytes("m1", b"\r\n\xff\xfe\x80 junk\r\n")
    bank.add_noise("m1", 0.3)
    for _n in range(5):
        assert device.ping()
    bank.add_noise("m1", 0.0)
    assert device.alive()
    send_text(device, "HS 1")
    assert len(bank.sent("m1")) == 1


def test_network_loss_shows_in_health_and_sends_fail_with_331(
    bank: Bank, open_device: DeviceFactory
) -> None:
    device = open_device()
    bank.lose_network("m1")
    health = device.health()
    assert (health.registered, health.signal_csq, health.operator) == (False, None, None)
    with pytest.raises(SendFailed) as failed:
        send_text(device, "HS 1")
    assert (failed.value.code, failed.value.verdict) == (331, SendVerdict.RETRY_HERE)
    assert "+CREG: 0" in device.drain_urcs()
    bank.lose_network("m1", False)
    assert device.health().registered


# ------------------------------------------------------------------ SIM PIN


@pytest.fixture
def pin_bank(tmp_path: Path) -> Iterator[Bank]:
    config = DeviceConfig(sim_state=SimState.SIM_PIN)
    with Bank(tmp_path / "pin", ["m1"], config=config, status_report_delay=None) as b:
        yield b


def test_correct_pin_unlocks_the_sim_once(pin_bank: Bank) -> None:
    device = Device(str(pin_bank.port("m1")), pin="1234", command_timeout=2.0)
    try:
        device.connect()
        assert device.health().sim == "READY"
        assert pin_bank.device("m1").sim.pin_attempts == 3
    finally:
        device.close()


@pytest.mark.parametrize(("pin", "attempts"), [("0000", 2), (None, 3)])
def test_wrong_or_missing_pin_raises_after_at_most_one_attempt(
    pin_bank: Bank, pin: str | None, attempts: int
) -> None:
    device = Device(str(pin_bank.port("m1")), pin=pin, command_timeout=2.0)
    try:
        with pytest.raises(PinRequired) as failed:
            device.connect()
        assert failed.value.state == "SIM PIN"
        assert failed.value.attempted is (pin is not None)
        assert pin_bank.device("m1").sim.pin_attempts == attempts
        assert not device.alive()
    finally:
        device.close()


def test_a_puk_locked_sim_is_never_tried(pin_bank: Bank) -> None:
    pin_bank.device("m1").sim.state = SimState.SIM_PUK
    device = Device(str(pin_bank.port("m1")), pin="1234", command_timeout=2.0)
    try:
        with pytest.raises(PinRequired) as failed:
            device.connect()
        assert (failed.value.state, failed.value.attempted) == ("SIM PUK", False)
        assert pin_bank.device("m1").sim.puk_attempts == 10
    finally:
        device.close()


@pytest.mark.slow
def test_cpin_answer_without_ok_costs_no_more_than_a_short_wait(
    bank: Bank, open_device: DeviceFactory
) -> None:
    bank.set_quirks("m1", cpin_without_ok=True)
    started = time.monotonic()
    device = open_device(command_timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert device.health().sim == "READY"


# ------------------------------------------------------------------ the transport fix


def test_prompt_without_trailing_space_is_accepted() -> None:
    master, slave = pty.openpty()
    comms = FixedSerialComms(os.ttyname(slave), 115200, lambda line: None, lambda exc: None)
    comms.connect()
    try:
        replier = threading.Timer(0.05, lambda: os.write(master, b"\r\n>"))
        replier.start()
        lines = comms.write("AT+CMGS=20\r", timeout=1.0, expectedResponseTermSeq="> ")
        replier.join()
        assert [line.strip() for line in lines] == [">"]
    finally:
        comms.close()
        os.close(master)
        os.close(slave)
