"""One emulated modem: the AT command interpreter and its line discipline, without any I/O.

Bytes from the terminal go in through `feed`; everything the modem says goes out through the
`output` callback. Time-dependent behaviour (latency, status reports, vendor URCs, boot) runs on
an injected scheduler, so tests can drive it without a pty or real time.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime

from modem.emulator import commands, pdu, smscmd, textmode, userdata
from modem.emulator.atparse import Command, SyntaxFault, parse_line
from modem.emulator.errors import AtError, cme, cms
from modem.emulator.fields import dcs_for
from modem.emulator.ledger import Sent, now_iso
from modem.emulator.profiles import GENERIC
from modem.emulator.schedule import Scheduler
from modem.emulator.state import (
    DeviceConfig,
    MsgStat,
    Sim,
    SimState,
    SmsInput,
    Storage,
    StoredPdu,
    UrcMode,
    VolatileSettings,
)

log = logging.getLogger(__name__)

CR, LF, BS, CTRL_Z, ESC = 0x0D, 0x0A, 0x08, 0x1A, 0x1B
MAX_LINE = 4096
VENDOR_URCS = (
    "^RSSI: {rssi}",
    '^HCSQ: "WCDMA",{rssi},40,50',
    '+QIND: "csq",{rssi},99',
    "^BOOT: 20952066,0,0,0,72",
)

Handler = Callable[["EmulatedModem", Command], list[str]]
HANDLERS: dict[str, Handler] = {**commands.HANDLERS, **smscmd.HANDLERS}


def local_now() -> datetime:
    return datetime.now().astimezone()  # SCTS fields keep whole seconds; the ledger keeps ms


class EmulatedModem:
    def __init__(
        self,
        modem_id: str,
        config: DeviceConfig,
        output: Callable[[bytes], None],
        scheduler: Scheduler,
        on_sent: Callable[[Sent], None] | None = None,
        wall: Callable[[], datetime] = local_now,
    ) -> None:
        self.id = modem_id
        self.config = config
        self.identity = config.identity
        self.quirks = config.quirks
        self.faults = config.faults
        self.profile = config.profile or GENERIC
        self.ussd_packed = 1 if self.profile.ussd_text_off else 0  # Huawei ^USSDMODE
        self.settings = VolatileSettings()
        self.sim = Sim(state=config.sim_state)
        if config.profile is None:
            self.storage = Storage.default(config.sm_capacity, config.me_capacity)
        else:
            self.storage = Storage.of(config.profile.memories, config.profile.index_base)
        self.cfun = 1
        self.rssi = 20
        self.creg_gprs_n = 0
        self.rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self.wall = wall
        self.no_final = False  # set by a handler whose answer lacks the final result code
        self.input: SmsInput | None = None
        self._output = output
        self._scheduler = scheduler
        self._on_sent = on_sent
        self._lock = threading.RLock()
        self._out = bytearray()
        self._line = bytearray()
        self._last_line = b""
        self._busy = False
        self._sending = False
        self._queued_input = bytearray()
        self._sms_buf = bytearray()
        self._held: list[list[str]] = []  # polite mode: URCs waiting for an idle link
        self._cnmi_held: list[list[str]] = []  # +CNMI mode 0: indications kept in the TA
        self._mid_response: list[str] = []
        self._next_mr = 0
        self._powered = False
        self._generation = 0
        self._boot_at = scheduler.now()

    # ---------------------------------------------------------------- life cycle

    def boot(self) -> None:
        """Power on (or reset): settings to defaults, SIM locked again if it has a PIN."""
        with self._lock:
            self._generation += 1
            self._powered = True
            self._boot_at = self._scheduler.now()
            self.settings = VolatileSettings()
            self.cfun = 1
            self.input = None
            self._line.clear()
            self._queued_input.clear()
            self._busy = self._sending = False
            self._held.clear()
            self._cnmi_held.clear()
            if self.sim.state is SimState.READY and self.config.sim_state is SimState.SIM_PIN:
                self.sim.state = SimState.SIM_PIN
            if self.quirks.boot_urcs and not self.profile.urcs_elsewhere:
                sim = self.sim.state.value if self.sim.state is not SimState.ABSENT else None
                for line in self.profile.boot_urcs:
                    if line.startswith("!"):
                        if self.sim.state is not SimState.READY:
                            continue
                        line = line[1:]
                    self._emit_urc([line.format(sim=sim or "NOT INSERTED")])
            self._arm_vendor_urcs()
            self._flush()

    def power_off(self) -> None:
        with self._lock:
            self._generation += 1
            self._powered = False
            self._out.clear()

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def sending(self) -> bool:
        """An AT+CMGS is waiting for the network (its latency)."""
        return self._sending

    def sim_busy(self) -> bool:
        return self._scheduler.now() - self._boot_at < self.quirks.boot_busy_seconds

    def registered(self) -> bool:
        return self.cfun == 1 and not self.faults.network_lost and self.sim.state is SimState.READY

    def require_sim(self, kind: str) -> None:
        """Raise the error a modem gives when the SIM is not usable for a command."""
        codes = {
            SimState.ABSENT: (10, 310),
            SimState.SIM_PIN: (11, 311),
            SimState.SIM_PUK: (12, 316),
        }
        if self.sim.state in codes:
            code = codes[self.sim.state]
            raise cme(code[0]) if kind == "cme" else cms(code[1])
        if self.sim_busy():
            raise cme(14) if kind == "cme" else cms(314)

    # ---------------------------------------------------------------- terminal side

    def feed(self, data: bytes) -> None:
        """Bytes typed by the terminal."""
        with self._lock:
            if not self._powered or self.faults.hang:
                return
            if self._busy:
                self._queued_input.extend(data)
                return
            self._consume(bytes(data))
            self._flush()

    def _consume(self, data: bytes) -> None:
        for i, byte in enumerate(data):
            if self._busy:
                self._queued_input.extend(data[i:])
                return
            if self.input is not None:
                self._sms_byte(byte)
            else:
                self._command_byte(byte)

    def _echo(self, data: bytes) -> None:
        if self.settings.echo:
            self._out.extend(data)

    def _command_byte(self, byte: int) -> None:
        if byte == LF and not self._line:
            return
        self._echo(bytes([byte]))
        if byte == CR:
            line = bytes(self._line)
            self._line.clear()
            self._run_line(line)
        elif byte == BS:
            if self._line:
                self._line.pop()
        elif len(self._line) < MAX_LINE:
            self._line.append(byte)
            if self._line.upper() == b"A/":  # repeat the last command line, no CR needed
                self._line.clear()
                self._run_line(self._last_line)

    def _run_line(self, line: bytes) -> None:
        text = line.decode("latin-1")
        start = text.upper().find("AT")
        if start < 0:
            self._flush_held()
            return  # not a command line: a modem ignores it
        self._last_line = line
        self._busy = True
        self.no_final = False
        canned = self.profile.answer(text[start + 2 :].strip().upper())
        if canned is not None:  # this family's own answer to exactly this command
            self._info([list(canned[:-1])] if len(canned) > 1 else [])
            self._final(canned[-1])
            return
        try:
            cmds = parse_line(text[start + 2 :])
        except SyntaxFault:
            self._final("ERROR")
            return
        blocks: list[list[str]] = []
        final = "OK"
        for cmd in cmds:
            try:
                lines = self._dispatch(cmd)
            except AtError as exc:
                final = exc.result(self.settings.cmee)
                if exc.kind == "unsupported":
                    final = self.profile.unsupported
                break
            if lines:
                blocks.append(lines)
            if self.input is not None:  # AT+CMGS: prompt, then wait for the message
                self._info(blocks)
                self._out.extend(b"\r\n> ")
                self._busy = False  # typing the message; URCs still held in polite mode
                return
        self._info(blocks)
        if self.no_final:
            self._idle()
        else:
            self._final(final)

    def _dispatch(self, cmd: Command) -> list[str]:
        handler = HANDLERS.get(cmd.name)
        if handler is None:
            return commands.basic(self, cmd)
        return handler(self, cmd)

    def _info(self, blocks: list[list[str]]) -> None:
        first = True
        for lines in blocks:
            for n, line in enumerate(lines):
                self._out.extend(self._frame(line, start=n == 0))
                if first and self._mid_response and self.config.urc_mode is UrcMode.REALISTIC:
                    for urc in self._mid_response:
                        self._out.extend(f"{urc}\r\n".encode("latin-1"))
                    self._mid_response.clear()
                first = False

    def _frame(self, line: str, start: bool = True) -> bytes:
        data = line.encode("latin-1", errors="replace")
        if not self.settings.verbose:
            return data + b"\r\n"
        return (b"\r\n" if start else b"") + data + b"\r\n"

    def _final(self, result: str) -> None:
        if not self.settings.quiet:
            if self.settings.verbose:
                self._out.extend(b"\r\n" + result.encode("latin-1") + b"\r\n")
            else:
                numeric = {"OK": "0", "ERROR": "4"}.get(result, result)
                self._out.extend(numeric.encode("latin-1") + b"\r")
        self._idle()

    def _idle(self) -> None:
        """The command is over: held URCs go out, then any input typed meanwhile is read."""
        self._busy = False
        self._flush_held()
        if self._queued_input:
            pending = bytes(self._queued_input)
            self._queued_input.clear()
            self._consume(pending)

    # ---------------------------------------------------------------- SMS input after "> "

    def _sms_byte(self, byte: int) -> None:
        assert self.input is not None
        if byte == CTRL_Z:
            body = bytes(self._sms_buf)
            self._sms_buf.clear()
            self._submit(self.input, body)
        elif byte == ESC:
            self._sms_buf.clear()
            self.input = None
            self._final("OK")
        elif byte == CR:
            if self.input.pdu_length is None:
                self._sms_buf.extend(b"\n")
                self._out.extend(b"\r\n> ")
        elif byte == LF:
            return
        elif byte == BS:
            if self._sms_buf:
                self._sms_buf.pop()
                self._echo(b"\x08")
        else:
            self._echo(bytes([byte]))
            if len(self._sms_buf) < 2 * MAX_LINE:
                self._sms_buf.append(byte)

    def _submit(self, req: SmsInput, body: bytes) -> None:
        self.input = None
        self._busy = True
        try:
            submit = self._parse_submission(req, body)
        except AtError as exc:
            self._final(exc.result(self.settings.cmee))
            return
        latency = self.config.latency
        if latency > 0:
            self._sending = True
            gen = self._generation
            self._scheduler.call_later(latency, lambda: self._after_latency(gen, submit))
        else:
            self._complete_submit(submit)

    def _parse_submission(self, req: SmsInput, body: bytes) -> pdu.SmsSubmit:
        text = body.decode("latin-1")
        if req.pdu_length is not None:
            hex_text = "".join(text.split())
            try:
                raw = bytes.fromhex(hex_text)
            except ValueError as exc:
                raise cms(304) from exc
            if not raw or raw[0] + 1 + req.pdu_length != len(raw):
                raise cms(304)
            try:
                return pdu.decode_submit(hex_text)
            except (pdu.PduError, ValueError) as exc:
                raise cms(304) from exc
        fo, vp, pid, dcs = self.settings.csmp
        try:
            decoded = textmode.te_decode(text, self.settings.cscs)
        except ValueError as exc:
            raise cms(305) from exc
        ud = textmode.text_to_user_data(decoded, dcs)
        try:
            userdata.encode(ud)
        except ValueError as exc:
            raise cms(305) from exc
        return pdu.SmsSubmit(
            destination=req.destination,
            user_data=ud,
            reject_duplicates=bool(fo & 0x04),
            status_report_request=bool(fo & 0x20),
            validity_format=(fo >> 3) & 3,
            validity=bytes([vp]) if (fo >> 3) & 3 == 2 else b"",
            pid=pid,
            dcs=dcs,
            destination_toa=req.toda,
        )

    def _after_latency(self, gen: int, submit: pdu.SmsSubmit) -> None:
        with self._lock:
            if gen != self._generation or self.faults.hang:
                return
            self._complete_submit(submit)
            self._flush()

    def _complete_submit(self, submit: pdu.SmsSubmit) -> None:
        self._sending = False
        try:
            if not self.registered():
                raise cms(331)
            if self.faults.error_share and self.rng.random() < self.faults.error_share:
                raise cms(self.rng.choice(self.faults.error_codes))
            if not self.config.prepaid.can_pay():
                raise cms(self.config.prepaid.dry_error)
        except AtError as exc:
            log.info("sms.submit_failed modem=%s code=%s", self.id, exc.code)
            self._final(exc.result(self.settings.cmee))
            return
        mr = self._next_mr
        self._next_mr = (mr + 1) % 256
        self.config.prepaid.charge()
        self._record(submit, mr)
        self._info([[f"+CMGS: {mr}"]])
        self._final("OK")
        delay = self.config.status_report_delay
        if submit.status_report_request and delay is not None:
            gen = self._generation
            sent_at = self.wall()
            # The recipient keeps its type of address: "+x" typed as alphanumeric (TOA 0xD0)
            # is not an international number, and re-encoding it as one raised in the timer.
            to, toa = submit.destination, submit.destination_toa
            self._scheduler.call_later(
                delay, lambda: self._status_report(gen, mr, to, toa, sent_at)
            )

    def _record(self, submit: pdu.SmsSubmit, mr: int) -> None:
        concat = submit.user_data.concat
        part = Sent(
            kind="part",
            modem=self.id,
            to=submit.destination,
            text=submit.text,
            parts=concat.total if concat else 1,
            part=concat.seq if concat else 1,
            refs=(mr,),
            concat_ref=concat.ref if concat else None,
            reject_duplicates=submit.reject_duplicates,
            status_report=submit.status_report_request,
            encoding=submit.user_data.alphabet.value,
            time=now_iso(self.wall()),
        )
        log.info("sms.submitted modem=%s mr=%s part=%s/%s", self.id, mr, part.part, part.parts)
        if self._on_sent is not None:
            self._on_sent(part)

    # ---------------------------------------------------------------- network side

    def inject_sms(
        self,
        sender: str,
        text: str,
        when: datetime | None = None,
        sender_toa: int | None = None,
        wide_ref: bool = False,
    ) -> list[int | None]:
        """A message from the network; returns the storage index of each part (None: not
        stored, because delivered directly with +CMT or because the storage is full)."""
        with self._lock:
            ref = self.rng.randrange(0x10000 if wide_ref else 0x100)
            stamp = when or self.wall()
            out: list[int | None] = []
            for ud in userdata.split_text(text, ref, wide_ref):
                deliver = pdu.SmsDeliver(
                    sender=sender,
                    user_data=ud,
                    timestamp=stamp,
                    dcs=dcs_for(ud.alphabet),
                    smsc=self.identity.smsc,
                    sender_toa=sender_toa,
                )
                out.append(self.deliver(deliver))
            self._flush()
            return out

    def deliver(self, msg: pdu.SmsDeliver) -> int | None:
        hex_pdu, length = pdu.encode_deliver(msg)
        if not self._powered:
            return None
        mt = self.settings.cnmi[1]
        if mt == 2:
            if self.settings.cmgf == 1:
                header = textmode.deliver_header(
                    "+CMT", msg, None, self.settings.cscs, self.settings.csdh, length
                )
                self._urc([header, textmode.body_on_wire(msg.user_data, self.settings.cscs)], True)
            else:
                self._urc([f"+CMT: ,{length}", hex_pdu], True)
            return None
        memory = self.storage.memories[self.storage.mem3]
        index = memory.free_index()
        if index is None:
            log.info("sms.storage_full modem=%s memory=%s", self.id, memory.name)
            return None
        memory.slots[index] = StoredPdu(MsgStat.REC_UNREAD, hex_pdu, length)
        if mt in (1, 3):
            self._urc([f'+CMTI: "{memory.name}",{index}'], True)
        return index

    def _status_report(
        self, gen: int, mr: int, to: str, toa: int | None, sent_at: datetime
    ) -> None:
        with self._lock:
            if gen != self._generation:
                return
            report = pdu.SmsStatusReport(
                reference=mr,
                recipient=to,
                timestamp=sent_at,
                discharge=self.wall(),
                status=self.config.status_report_status,
                smsc=self.identity.smsc,
                recipient_toa=toa,
            )
            hex_pdu, length = pdu.encode_status_report(report)
            ds = self.settings.cnmi[3]
            if ds == 1:
                if self.settings.cmgf == 1:
                    self._urc(["+CDS: " + textmode.report_fields(report, self.settings.cscs)], True)
                else:
                    self._urc([f"+CDS: {length}", hex_pdu], True)
            elif ds == 2:
                where = self.profile.report_memory
                if where not in self.storage.memories:
                    where = self.storage.mem3
                memory = self.storage.memories[where]
                index = memory.free_index()
                if index is not None:
                    memory.slots[index] = StoredPdu(
                        MsgStat.REC_UNREAD, hex_pdu, length, report=True
                    )
                    self._urc([f'+CDSI: "{memory.name}",{index}'], True)
            self._flush()

    def ussd_later(self, code: str) -> None:
        """The network's answer to a USSD request, a moment later, as a +CUSD URC."""
        gen = self._generation
        self._scheduler.call_later(self.config.ussd_delay, lambda: self._ussd_answer(gen, code))

    def _ussd_answer(self, gen: int, code: str) -> None:
        with self._lock:
            if gen != self._generation:
                return
            answer = self.config.prepaid.ussd_answer(code, self.identity.operator_long)
            if answer is None:
                self._urc(["+CUSD: 4"])  # operation not supported
            else:
                text = answer.replace('"', "'")
                self._urc([f'+CUSD: 0,"{text}",15'])
            self._flush()

    def set_network(self, lost: bool) -> None:
        with self._lock:
            was = self.registered()
            self.faults.network_lost = lost
            self.registration_changed(was)
            self._flush()

    def registration_changed(self, was: bool) -> None:
        now = self.registered()
        if now != was and self.settings.creg_n:
            self._urc([commands.creg_urc(self)])

    def inject_bytes(self, data: bytes) -> None:
        """Raw bytes on the line, e.g. noise or invalid UTF-8."""
        with self._lock:
            if self._powered:
                self._out.extend(data)
                self._flush()

    def queue_mid_response(self, urc: str) -> None:
        """In realistic mode, `urc` goes out after the first line of the next response."""
        with self._lock:
            self._mid_response.append(urc)

    def mid_response_pending(self) -> int:
        """How many URCs wait to go out inside the next response."""
        with self._lock:
            return len(self._mid_response)

    def set_hang(self, hang: bool) -> None:
        with self._lock:
            self.faults.hang = hang
            if not hang:
                self._busy = self._sending = False
                self.input = None
                self._line.clear()
                self._queued_input.clear()

    def flush_cnmi_buffer(self, discard: bool) -> None:
        held, self._cnmi_held = self._cnmi_held, []
        if not discard:
            for lines in held:
                self._urc(lines)

    # ---------------------------------------------------------------- URCs and output

    def _urc(self, lines: list[str], sms: bool = False) -> None:
        if not self._powered or self.faults.hang or self.profile.urcs_elsewhere:
            return
        if sms and self.settings.cnmi[0] == 0:
            self._cnmi_held.append(lines)
            return
        polite = self.config.urc_mode is UrcMode.POLITE
        if polite and (self._busy or self.input is not None or self._line):
            self._held.append(lines)
            return
        self._emit_urc(lines)

    def _emit_urc(self, lines: list[str]) -> None:
        self._out.extend(("\r\n" + "\r\n".join(lines) + "\r\n").encode("latin-1", "replace"))

    def _flush_held(self) -> None:
        held, self._held = self._held, []
        for lines in held:
            self._emit_urc(lines)

    def _flush(self) -> None:
        if not self._out:
            return
        data = bytes(self._out)
        self._out.clear()
        if not self._powered or self.faults.hang:
            return
        if self.faults.noise_share and self.rng.random() < self.faults.noise_share:
            data = self.rng.choice([b"\xff\xfe", b"~\x00#", b"\x80AT", b"\r\n\xc3("]) + data
        self._output(data)

    def _arm_vendor_urcs(self) -> None:
        interval = self.quirks.vendor_urc_interval
        if interval <= 0:
            return
        gen = self._generation
        self._scheduler.call_later(
            self.rng.expovariate(1.0 / interval), lambda: self._vendor_urc(gen)
        )

    def _vendor_urc(self, gen: int) -> None:
        with self._lock:
            if gen != self._generation or self.quirks.vendor_urc_interval <= 0:
                return
            urc = self.rng.choice(self.profile.vendor_urcs or VENDOR_URCS).format(rssi=self.rssi)
            if self.quirks.urc_in_response:
                self._mid_response.append(urc)
            else:
                self._urc([urc])
            self._flush()
            self._arm_vendor_urcs()

    def set_quirks(self, **changes: object) -> None:
        with self._lock:
            before = self.quirks.vendor_urc_interval
            for key, value in changes.items():
                if not hasattr(self.quirks, key):
                    raise ValueError(f"unknown quirk {key}")
                setattr(self.quirks, key, value)
            if before <= 0 < self.quirks.vendor_urc_interval:
                self._arm_vendor_urcs()

    def reset_settings(self) -> None:
        """ATZ / AT&F."""
        self.settings = VolatileSettings()

    def next_reference(self) -> int:
        return self._next_mr

    def reboot_later(self, delay: float = 0.05) -> None:
        gen = self._generation
        self._scheduler.call_later(delay, lambda: self._reboot(gen))

    def _reboot(self, gen: int) -> None:
        if gen == self._generation:
            self.boot()

    def command_names(self) -> list[str]:
        return sorted(HANDLERS)
