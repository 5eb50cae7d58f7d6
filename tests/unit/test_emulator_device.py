"""The emulated modem's AT interpreter, driven byte by byte without a pty."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from modem.emulator import pdu
from modem.emulator.device import EmulatedModem
from modem.emulator.ledger import Ledger, Sent
from modem.emulator.schedule import ManualScheduler
from modem.emulator.state import DeviceConfig, Quirks, SimState, UrcMode
from modem.emulator.userdata import UserData, split_text

HELLO_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
NOW = datetime(2024, 11, 26, 9, 30, tzinfo=timezone(timedelta(hours=7)))


class Terminal:
    """A terminal typing at one emulated modem; `out` is everything the modem said."""

    def __init__(self, config: DeviceConfig | None = None) -> None:
        self.out = bytearray()
        self.clock = ManualScheduler()
        self.ledger = Ledger()
        self.dev = EmulatedModem(
            "m1",
            config or DeviceConfig(quirks=Quirks(boot_urcs=False)),
            self.out.extend,
            self.clock,
            on_sent=self.record,
            wall=lambda: NOW,
        )
        self.dev.boot()
        self.out.clear()

    def record(self, part: Sent) -> None:
        self.ledger.record_part(part)

    def send(self, data: bytes) -> bytes:
        start = len(self.out)
        self.dev.feed(data)
        return bytes(self.out[start:])

    def at(self, line: str) -> str:
        return self.send(line.encode("latin-1") + b"\r").decode("latin-1")

    def submit(self, hex_pdu: str) -> str:
        length = len(bytes.fromhex(hex_pdu)) - 1 - bytes.fromhex(hex_pdu)[0]
        assert self.at(f"AT+CMGS={length}").endswith("\r\n> ")
        return self.send(hex_pdu.encode() + b"\x1a").decode("latin-1")


@pytest.fixture
def term() -> Terminal:
    t = Terminal()
    t.at("ATE0")
    return t


def submit_pdu(text: str, number: str = "+84912345678", srr: bool = False, rd: bool = False) -> str:
    [ud] = split_text(text)
    msg = pdu.SmsSubmit(number, ud, status_report_request=srr, reject_duplicates=rd)
    return pdu.encode_submit(msg)[0]


def test_echo_is_on_after_boot_and_off_after_ate0() -> None:
    t = Terminal()
    assert t.at("AT") == "AT\r\r\nOK\r\n"
    assert t.at("ATE0") == "ATE0\r\r\nOK\r\n"
    assert t.at("AT") == "\r\nOK\r\n"


def test_echo_stuck_quirk_keeps_echo_after_ate0() -> None:
    t = Terminal(DeviceConfig(quirks=Quirks(boot_urcs=False, echo_stuck=True)))
    t.at("ATE0")
    assert t.at("AT") == "AT\r\r\nOK\r\n"


def test_unknown_command_is_error(term: Terminal) -> None:
    assert term.at("AT+FOOBAR") == "\r\nERROR\r\n"
    assert term.at("AT+CMGF=7") == "\r\nERROR\r\n"


def test_commands_joined_by_semicolons_run_in_order(term: Terminal) -> None:
    assert term.at("AT+CMGF=1;+CMGF?;+CSCS?") == '\r\n+CMGF: 1\r\n\r\n+CSCS: "GSM"\r\n\r\nOK\r\n'


def test_a_failing_command_stops_the_rest_of_the_line(term: Terminal) -> None:
    assert term.at("AT+CMGF=1;+BOGUS;+CMGF=0") == "\r\nERROR\r\n"
    assert term.at("AT+CMGF?") == "\r\n+CMGF: 1\r\n\r\nOK\r\n"


def test_lines_without_at_are_ignored(term: Terminal) -> None:
    assert term.at("hello") == ""


def test_identity_commands_answer_like_a_quectel(term: Terminal) -> None:
    assert term.at("AT+CGMI") == "\r\nQuectel\r\n\r\nOK\r\n"
    assert term.at("AT+GMM") == "\r\nUC20\r\n\r\nOK\r\n"
    assert "861234567890123" in term.at("AT+CGSN")
    assert "452040123456789" in term.at("AT+CIMI")
    assert term.at("ATI").startswith("\r\nQuectel\r\nUC20\r\nRevision:")
    assert "AT+CMGS\r\n" in term.at("AT+CLAC")


@pytest.mark.parametrize(
    ("cmee", "answer"),
    [("0", "ERROR"), ("1", "+CME ERROR: 10"), ("2", "+CME ERROR: SIM not inserted")],
)
def test_missing_sim_is_reported_as_cmee_asks(cmee: str, answer: str) -> None:
    t = Terminal(DeviceConfig(sim_state=SimState.ABSENT, quirks=Quirks(boot_urcs=False)))
    t.at("ATE0")
    t.at(f"AT+CMEE={cmee}")
    assert t.at("AT+CPIN?") == f"\r\n{answer}\r\n"


def test_wrong_pins_lock_the_sim_and_the_puk_unlocks_it() -> None:
    t = Terminal(DeviceConfig(sim_state=SimState.SIM_PIN, quirks=Quirks(boot_urcs=False)))
    t.at("ATE0;+CMEE=1")
    assert t.at("AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert t.at("AT+CMGL=4") == "\r\n+CMS ERROR: 311\r\n"
    for _ in range(3):
        assert t.at('AT+CPIN="0000"') == "\r\n+CME ERROR: 16\r\n"
    assert t.at("AT+CPIN?") == "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"
    assert t.at('AT+CPIN="12345678","4321"') == "\r\nOK\r\n"
    assert t.at("AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_cpin_without_ok_quirk_leaves_out_the_final_result() -> None:
    t = Terminal(DeviceConfig(quirks=Quirks(boot_urcs=False, cpin_without_ok=True)))
    t.at("ATE0")
    assert t.at("AT+CPIN?") == "\r\n+CPIN: READY\r\n"
    assert t.at("AT") == "\r\nOK\r\n"


def test_sim_is_busy_for_a_while_after_boot() -> None:
    t = Terminal(DeviceConfig(quirks=Quirks(boot_urcs=False, boot_busy_seconds=3)))
    t.at("ATE0;+CMEE=1")
    assert t.at("AT+CPIN?") == "\r\n+CME ERROR: 14\r\n"
    assert t.at("AT+CSCA?") == "\r\n+CMS ERROR: 314\r\n"
    t.clock.advance(3)
    assert t.at("AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_boot_urcs_announce_the_modem() -> None:
    out = bytearray()
    dev = EmulatedModem("m1", DeviceConfig(), out.extend, ManualScheduler())
    dev.boot()
    assert bytes(out) == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"


def test_cmgs_prompts_exactly_and_answers_the_message_reference(term: Terminal) -> None:
    assert term.at("AT+CMGS=23") == "\r\n> "
    assert term.send(HELLO_SUBMIT.encode() + b"\x1a") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    [sent] = term.ledger.records()
    assert (sent.to, sent.text, sent.parts, sent.refs) == ("+46708251358", "hellohello", 1, (0,))


def test_message_references_increment_and_wrap_after_255(term: Terminal) -> None:
    for _ in range(256):
        term.submit(HELLO_SUBMIT)
    assert term.submit(HELLO_SUBMIT) == "\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert term.ledger.records()[255].refs == (255,)


def test_escape_cancels_the_message(term: Terminal) -> None:
    term.at("AT+CMGS=23")
    assert term.send(HELLO_SUBMIT.encode() + b"\x1b") == b"\r\nOK\r\n"
    assert term.ledger.records() == []
    assert term.at("AT") == "\r\nOK\r\n"


def test_a_pdu_of_the_wrong_length_is_refused(term: Terminal) -> None:
    term.at("AT+CMEE=1")
    term.at("AT+CMGS=22")
    assert term.send(HELLO_SUBMIT.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"


def test_echo_during_message_input_repeats_the_pdu() -> None:
    t = Terminal()
    assert t.at("AT+CMGS=23") == "AT+CMGS=23\r\r\n> "
    assert t.send(HELLO_SUBMIT.encode() + b"\x1a").startswith(HELLO_SUBMIT.encode() + b"\r\n+CMGS")


def test_reject_duplicates_and_status_report_flags_reach_the_ledger(term: Terminal) -> None:
    term.submit(submit_pdu("HS 1", rd=True, srr=True))
    [sent] = term.ledger.records()
    assert sent.reject_duplicates
    assert sent.status_report


def test_text_mode_send_uses_csmp_first_octet(term: Terminal) -> None:
    term.at("AT+CMGF=1;+CSMP=53,167,0,0")
    assert term.at('AT+CMGS="0912345678"') == "\r\n> "
    assert term.send(b"Ho so da tiep nhan\x1a") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    [sent] = term.ledger.records()
    assert (sent.to, sent.text, sent.reject_duplicates, sent.status_report) == (
        "0912345678",
        "Ho so da tiep nhan",
        True,
        True,
    )


def test_text_mode_ucs2_charset_sends_vietnamese(term: Terminal) -> None:
    text = "Hồ sơ của bạn"
    term.at('AT+CMGF=1;+CSCS="UCS2";+CSMP=17,167,0,8')
    number_hex = "+84912345678".encode("utf-16-be").hex().upper()
    term.at(f'AT+CMGS="{number_hex}"')
    term.send(text.encode("utf-16-be").hex().upper().encode() + b"\x1a")
    [sent] = term.ledger.records()
    assert (sent.to, sent.text, sent.encoding) == ("+84912345678", text, "ucs2")


def test_multipart_parts_are_assembled_into_one_ledger_message(term: Terminal) -> None:
    for ud in split_text("z" * 400, ref=77):
        term.submit(pdu.encode_submit(pdu.SmsSubmit("+8491", ud))[0])
    [whole] = term.ledger.records()
    assert (whole.text, whole.parts, whole.refs, whole.concat_ref) == ("z" * 400, 3, (0, 1, 2), 77)
    assert len(term.ledger.records(kind="part")) == 3


def test_latency_delays_the_answer_until_the_network_replies(term: Terminal) -> None:
    term.dev.config.latency = 2.5
    term.at("AT+CMGS=23")
    assert term.send(HELLO_SUBMIT.encode() + b"\x1a") == b""
    assert term.send(b"AT\r") == b""  # typed while busy: answered afterwards
    term.clock.advance(2.5)
    assert bytes(term.out).endswith(b"\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nOK\r\n")


def test_realistic_urcs_arrive_while_a_send_is_waiting(term: Terminal) -> None:
    term.dev.config.latency = 1
    term.at("AT+CMGS=23")
    term.send(HELLO_SUBMIT.encode() + b"\x1a")
    term.dev.inject_sms("+84987654321", "HS 1")
    term.clock.advance(1)
    assert bytes(term.out).endswith(b'\r\n+CMTI: "SM",1\r\n\r\n+CMGS: 0\r\n\r\nOK\r\n')


def test_polite_urcs_wait_for_the_final_result() -> None:
    t = Terminal(DeviceConfig(urc_mode=UrcMode.POLITE, latency=1, quirks=Quirks(boot_urcs=False)))
    t.at("ATE0")
    t.at("AT+CMGS=23")
    t.send(HELLO_SUBMIT.encode() + b"\x1a")
    t.dev.inject_sms("+84987654321", "HS 1")
    t.clock.advance(1)
    assert bytes(t.out).endswith(b'\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CMTI: "SM",1\r\n')


def test_a_long_incoming_text_gives_a_burst_of_cmti(term: Terminal) -> None:
    start = len(term.out)
    assert term.dev.inject_sms("+84987654321", "y" * 400) == [1, 2, 3]
    urcs = bytes(term.out[start:])
    assert urcs == b"".join(b'\r\n+CMTI: "SM",%d\r\n' % i for i in (1, 2, 3))


def test_stored_messages_are_listed_read_and_marked_read(term: Terminal) -> None:
    term.dev.inject_sms("+84987654321", "HS 12345")
    listing = term.at("AT+CMGL=0").split("\r\n")
    assert listing[1].startswith("+CMGL: 1,0,,")
    deliver = pdu.decode_deliver(listing[2])
    assert (deliver.sender, deliver.text, deliver.timestamp) == ("+84987654321", "HS 12345", NOW)
    assert term.at("AT+CMGL=0") == "\r\nOK\r\n"
    assert term.at("AT+CMGR=1").startswith("\r\n+CMGR: 1,,")
    assert term.at("AT+CMEE=1;+CMGR=2") == "\r\n+CMS ERROR: 321\r\n"


def test_text_mode_listing_shows_words_and_the_text(term: Terminal) -> None:
    term.dev.inject_sms("+84987654321", "TRA 123")
    term.at("AT+CMGF=1")
    assert term.at('AT+CMGL="ALL"') == (
        '\r\n+CMGL: 1,"REC UNREAD","+84987654321",,"24/11/26,09:30:00+28"\r\nTRA 123\r\n\r\nOK\r\n'
    )
    assert term.at("AT+CMGR=1").startswith('\r\n+CMGR: "REC READ","+84987654321",,"24/11/26')


def test_delete_by_index_and_by_flag(term: Terminal) -> None:
    for n in range(3):
        term.dev.inject_sms("+8498", f"m{n}")
    term.at("AT+CMGR=1")
    term.at("AT+CMGD=2")
    assert term.at("AT+CPMS?") == '\r\n+CPMS: "SM",2,30,"SM",2,30,"SM",2,30\r\n\r\nOK\r\n'
    term.at("AT+CMGD=1,1")  # all read messages
    assert '"SM",1,30' in term.at("AT+CPMS?")
    term.at("AT+CMGD=1,4")
    assert '"SM",0,30' in term.at("AT+CPMS?")


def test_storage_choice_changes_where_messages_go(term: Terminal) -> None:
    assert term.at('AT+CPMS="ME","ME","ME"') == "\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n"
    start = len(term.out)
    term.dev.inject_sms("+8498", "x")
    assert bytes(term.out[start:]) == b'\r\n+CMTI: "ME",1\r\n'


def test_full_storage_refuses_new_messages() -> None:
    t = Terminal(DeviceConfig(sm_capacity=1, quirks=Quirks(boot_urcs=False)))
    assert t.dev.inject_sms("+8498", "one") == [1]
    assert t.dev.inject_sms("+8498", "two") == [None]


def test_cnmi_direct_delivery_sends_cmt_instead_of_storing(term: Terminal) -> None:
    term.at("AT+CNMI=2,2,0,0,0")
    start = len(term.out)
    assert term.dev.inject_sms("+84987654321", "HS 9") == [None]
    lines = bytes(term.out[start:]).decode().split("\r\n")
    assert lines[1].startswith("+CMT: ,")
    assert pdu.decode_deliver(lines[2]).text == "HS 9"


def test_cnmi_mode_zero_holds_indications_until_enabled(term: Terminal) -> None:
    term.at("AT+CNMI=0,1,0,0,0")
    start = len(term.out)
    term.dev.inject_sms("+8498", "x")
    assert bytes(term.out[start:]) == b""
    assert term.at("AT+CNMI=2,1,0,0,0") == '\r\n+CMTI: "SM",1\r\n\r\nOK\r\n'


def test_status_report_is_stored_and_announced_with_cdsi(term: Terminal) -> None:
    term.at("AT+CNMI=2,1,0,2,0")
    term.submit(submit_pdu("HS 1", srr=True))
    start = len(term.out)
    term.clock.advance(1.0)
    assert bytes(term.out[start:]) == b'\r\n+CDSI: "SM",1\r\n'
    report = pdu.decode_status_report(term.at("AT+CMGR=1").split("\r\n")[2])
    assert (report.reference, report.recipient, report.status) == (0, "+84912345678", 0)


def test_status_report_is_routed_with_cds_when_ds_is_one(term: Terminal) -> None:
    term.at("AT+CNMI=2,1,0,1,0")
    term.submit(submit_pdu("HS 1", srr=True))
    start = len(term.out)
    term.clock.advance(1.0)
    lines = bytes(term.out[start:]).decode().split("\r\n")
    assert lines[1].startswith("+CDS: ")
    assert pdu.decode_status_report(lines[2]).reference == 0


def test_network_loss_is_announced_and_fails_sends(term: Terminal) -> None:
    term.at("AT+CREG=1;+CMEE=1")
    start = len(term.out)
    term.dev.set_network(lost=True)
    assert bytes(term.out[start:]) == b"\r\n+CREG: 0\r\n"
    assert term.at("AT+CREG?") == "\r\n+CREG: 1,0\r\n\r\nOK\r\n"
    assert term.at("AT+CSQ") == "\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    assert term.submit(HELLO_SUBMIT) == "\r\n+CMS ERROR: 331\r\n"
    start = len(term.out)
    term.dev.set_network(lost=False)
    assert bytes(term.out[start:]) == b"\r\n+CREG: 1\r\n"
    assert term.submit(HELLO_SUBMIT) == "\r\n+CMGS: 0\r\n\r\nOK\r\n"


def test_error_share_fails_sends_with_the_configured_code(term: Terminal) -> None:
    term.dev.faults.error_share = 1.0
    term.dev.faults.error_codes = (38,)
    assert term.submit(HELLO_SUBMIT) == "\r\n+CMS ERROR: 38\r\n"
    assert term.ledger.records() == []


def test_a_hung_modem_answers_nothing_until_released(term: Terminal) -> None:
    term.dev.set_hang(True)
    assert term.at("AT") == ""
    term.dev.set_hang(False)
    assert term.at("AT") == "\r\nOK\r\n"


def test_vendor_urc_can_land_inside_a_response(term: Terminal) -> None:
    term.dev.inject_sms("+8498", "x")
    term.dev.queue_mid_response("^RSSI: 18")
    lines = term.at("AT+CMGR=1").split("\r\n")
    assert lines[1].startswith("+CMGR: 0,,")
    assert lines[2] == "^RSSI: 18"


def test_vendor_urcs_come_at_random_times() -> None:
    t = Terminal(DeviceConfig(quirks=Quirks(boot_urcs=False, vendor_urc_interval=1.0), seed=1))
    t.clock.advance(30)
    assert bytes(t.out).count(b"\r\n") >= 20


def test_noise_fault_puts_invalid_bytes_on_the_line(term: Terminal) -> None:
    term.dev.faults.noise_share = 1.0
    answer = term.send(b"AT\r")
    assert answer.endswith(b"\r\nOK\r\n")
    assert answer != b"\r\nOK\r\n"


def test_cfun_reset_reboots_with_boot_urcs() -> None:
    t = Terminal(DeviceConfig())
    t.at("ATE0")
    assert t.at("AT+CFUN=1,1") == "\r\nOK\r\n"
    t.clock.advance(1)
    assert b"RDY" in bytes(t.out)
    assert t.at("AT") == "AT\r\r\nOK\r\n"  # echo back on after the reset


def test_verbose_errors_with_cmee_2(term: Terminal) -> None:
    term.at("AT+CMEE=2")
    assert term.at("AT+CMGR=9") == "\r\n+CMS ERROR: invalid memory index\r\n"


def test_gsm7_message_text_round_trips_through_storage(term: Terminal) -> None:
    text = "Gia: 10€ [HS] {ok} ~ | \\ ^ à"
    term.dev.inject_sms("+8498", text)
    listing = term.at("AT+CMGL=4").split("\r\n")
    assert pdu.decode_deliver(listing[2]).user_data == UserData(text, pdu.DcsAlphabet.GSM7)


# -- model profiles ----------------------------------------------------------------------------


def profiled(name: str) -> Terminal:
    from modem.emulator.profiles import config_for

    config = config_for(name)
    config.quirks.boot_urcs = False
    config.quirks.vendor_urc_interval = 0.0
    t = Terminal(config)
    t.at("ATE0")
    return t


def test_the_wavecom_profile_answers_as_the_captured_fastrack() -> None:
    t = profiled("wavecom-fastrack")
    assert t.at("AT+CPMS=?") == '\r\n+CPMS: (("SM","BM","SR"),("SM"))\r\n\r\nOK\r\n'
    assert t.at('AT+CPMS="SM","SM","SM"') == "\r\nERROR\r\n"
    assert t.at('AT+CPMS="SM","SM"') == "\r\n+CPMS: 0,50,0,50\r\n\r\nOK\r\n"
    assert t.at("AT+CPIN?") == "\r\n+CPIN: READY\r\n"  # no final OK
    assert t.at("AT+CVHU=0") == "\r\nERROR\r\n"
    assert t.at("AT+CGMR") == "\r\nERROR\r\n"


def test_a_huawei_says_command_not_support_and_a_zte_its_own_cfun_answer() -> None:
    assert profiled("huawei-e173").at("AT+WIND?") == "\r\nCOMMAND NOT SUPPORT\r\n"
    assert profiled("generic").at("AT+WIND?") == "\r\nERROR\r\n"
    assert profiled("zte-mf").at("AT+CFUN?") == "\r\n+CFUN: (0-1,4-7),(0-1)\r\n\r\nOK\r\n"


def test_a_sim800_refuses_stored_status_reports() -> None:
    t = profiled("simcom-sim800")
    assert t.at("AT+CNMI=?") == "\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"
    assert t.at("AT+CNMI=2,1,0,2,0") == "\r\n+CMS ERROR: 303\r\n"
    assert t.at("AT+CNMI=2,1,0,1,0") == "\r\nOK\r\n"


def test_reports_go_to_the_memory_the_family_keeps_them_in() -> None:
    for name, memory, index in (
        ("simcom-sim7600", "SR", 0),
        ("telit-le910", "SM", 1),
        ("quectel-ec25", "ME", 1),
    ):
        t = profiled(name)
        t.at("AT+CMEE=1")
        t.at('AT+CPMS="ME","ME","ME"' if name == "quectel-ec25" else 'AT+CPMS="SM","SM","SM"')
        t.at("AT+CNMI=2,1,0,2,0")
        t.submit("0031000B916407281553F80000AA0AE8329BFD4697D9EC37")  # status report requested
        t.clock.advance(1.5)
        assert f'+CDSI: "{memory}",{index}' in t.out.decode("latin-1"), name
        assert t.dev.storage.memories[memory].slots[index].report, name
