"""One GSM modem as its owner thread sees it: connect, send a part, list and delete storage.

The only module (with its helpers gsm_fixes, sms_pdu, device_parse) that touches
python-gsmmodem-new. THREADING: every method of `Device` is called from one owner thread (the
modem service's actor for this modem). The library's reader thread only appends URC lines to a
deque and records a fatal error; nothing but the owner thread ever writes to the port.

What we use from gsmmodem and what we bypass:
- used: `SerialComms` (serial port, reader thread, the write/response handshake, the "> " prompt
  wait, `TimeoutException` with partial data), patched in modem/gsm_fixes.py;
- bypassed: `GsmModem` entirely. Its connect() crashes on some answers and waits 15 s on others,
  and sets +CNMI for URC-driven delivery; its write() retries SIM-busy by recursion; sendSms
  always asks for a report and tracks one reference; listStoredSms/processStoredSms delete
  before the message is safe and shift indexes after a corrupt PDU; its notification handler
  threads write to the port. We issue the AT commands ourselves and parse the answers.

Delivery without URCs: AT+CNMI=2,1,0,2,0 where the modem offers it (modem/device_setup.py
probes and falls back). Received messages (mt=1) and status reports (ds=2) are both STORED;
+CMTI/+CDSI are only hints to poll sooner. Correctness rests on listing storage (AT+CMGL=4 in
every memory, "SR" too where the modem keeps reports there) and deleting by index after the caller
has persisted: a URC lost inside a response, or during a reconnect, delays a message but never
loses it. mt=2 (+CMT) and ds=1 (+CDS) hand the PDU over once, in a URC, with no copy left on the
modem: used only where the modem offers nothing better, picked out of the URC stream (best
effort, published as a limitation).
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Callable

import serial
from gsmmodem.exceptions import TimeoutException

from gateway.core.modem_limits import Limit
from modem.device_parse import (
    Response,
    csq_to_dbm,
    parse_cmgl,
    quoted,
    split_response,
    status_word,
)
from modem.device_setup import INBOX_MEMORIES, Setup, Unsuitable, configure, numeric_errors
from modem.device_types import Health, StatusReport, StoredSms, _report
from modem.errors import (
    CommandFailed,
    ModemUnavailable,
    PinRequired,
    SendFailed,
    SendVerdict,
    SimNotInserted,
    classify_cms,
)
from modem.gsm_fixes import FixedSerialComms
from modem.sms_pdu import (
    UNKNOWN_TIME,
    Concat,
    Deliver,
    PartToSend,
    PduDecodeError,
    StatusReportPdu,
    decode_pdu,
    digest,
    encode_parts,
)
from modem.ussd import unsolicited

log = logging.getLogger(__name__)

__all__ = ["Concat", "Device", "Health", "PartToSend", "StatusReport", "StoredSms"]
__all__ += ["encode_parts"]

BUSY = {("CME", 14), ("CME", 515), ("CMS", 314), ("CMS", 515)}
STRAY = re.compile(r"^(OK|ERROR|>|\+CMGS:.*|\+CM[ES] ERROR:.*)$")
ESC, CTRL_Z = "\x1b", "\x1a"


class Device:
    """A modem on `port`; see the module docstring for the threading rule."""

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        pin: str | None = None,
        *,
        command_timeout: float = 10.0,
        send_timeout: float = 70.0,
    ) -> None:
        if pin is not None and not re.fullmatch(r"\d{4,8}", pin):
            raise ValueError("a SIM PIN is 4 to 8 digits")
        self.port = str(port)
        self.baudrate = baudrate
        self.pin = pin
        self.command_timeout = command_timeout
        self.send_timeout = send_timeout
        self.memories: list[str] = []
        self.report_memories: list[str] = []
        self.reports = "none"  # "stored" / "direct" (+CDS) / "none": how status reports come
        self.limits: dict[Limit, str] = {}  # what this modem could not do, with the answer
        self.stray_refs: list[int] = []  # "+CMGS: <mr>" answers that arrived late (a restart)
        self.last_stored: int | None = None  # received SMS in storage when last counted
        self._cpin_without_ok = False
        self._comms: FixedSerialComms | None = None
        self._fatal: BaseException | None = None
        self._incoming: collections.deque[str] = collections.deque()  # reader thread appends
        # Called on the reader thread for every unsolicited line: it must only hand off (set an
        # event), never block or touch the port. The owner uses it to wake up on +CMTI.
        self.on_urc: Callable[[], None] | None = None
        self._urcs: list[str] = []
        self._cds: list[str] = []
        self._cmt: list[str] = []
        self._pdu_next: list[str] | None = None  # where the next line (a PDU) goes
        self._mem1: str | None = None
        self._dirty = False  # a command timed out: resynchronise before the next one
        self._lock = threading.Lock()  # guards the owner-thread rule, never held by the reader

    # ------------------------------------------------------------ life cycle

    def connect(self) -> None:
        """Open the port and set the modem up; raises ModemUnavailable or PinRequired."""
        self.close()
        self._fatal = None
        self._mem1 = None
        self._dirty = False
        comms = FixedSerialComms(self.port, self.baudrate, self._take_line, self._on_fatal)
        try:
            comms.connect()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemUnavailable(f"cannot open {self.port}: {exc}") from exc
        self._comms = comms
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        log.info("modem.connected port=%s memories=%s", self.port, ",".join(self.memories))

    def _setup(self) -> None:
        deadline = time.monotonic() + self.command_timeout
        while True:  # the modem may still be booting: a few short tries
            try:
                self._write(ESC, None, 0)
                self._at("ATE0V1", timeout=min(1.0, self.command_timeout))
                break
            except ModemUnavailable:
                if time.monotonic() > deadline or not self.alive():
                    raise
        self.limits = numeric_errors(self._at)
        self._unlock_sim()
        self.stored_count()  # before anything can fail: what waits on the SIM if it does
        try:
            setup: Setup = configure(self._at)
        except Unsuitable as exc:
            self.limits.update(exc.limits)
            raise
        self.memories = setup.memories
        self.report_memories = setup.report_memories
        self.reports = setup.reports
        self.limits.update(setup.limits)
        self._mem1 = None  # whatever the last +CPMS form selected: select before listing

    def _unlock_sim(self) -> None:
        state = self._sim_state()
        if state == "READY":
            return
        if state == "NOT INSERTED":
            raise SimNotInserted(f"{self.port}: SIM not inserted")
        if state != "SIM PIN" or self.pin is None:
            raise PinRequired(state)
        log.info("modem.pin_attempt port=%s", self.port)
        try:
            self._at(f'AT+CPIN="{self.pin}"')
        except CommandFailed as exc:
            raise PinRequired(state, attempted=True) from exc
        deadline = time.monotonic() + self.command_timeout
        while (state := self._sim_state()) != "READY":
            if state != "SIM BUSY" or time.monotonic() > deadline:
                raise PinRequired(state, attempted=True)
            time.sleep(0.2)

    def _sim_state(self) -> str:
        """READY / SIM PIN / SIM PUK / NOT INSERTED / SIM BUSY / ... Some modems answer
        AT+CPIN? without a final OK: a short timeout and the partial answer then suffice."""
        wait = 0.3 if self._cpin_without_ok else min(2.0, self.command_timeout)
        try:
            resp = self._at("AT+CPIN?", "+CPIN:", timeout=wait)
        except CommandFailed as exc:
            code = exc.final
            if code.endswith(" 10") or code.endswith(" 310"):
                return "NOT INSERTED"
            if code.endswith(" 14") or code.endswith(" 314"):
                return "SIM BUSY"
            raise
        except _PartialAnswer as partial:
            resp = partial.response
            self._cpin_without_ok = True  # learnt: the next time, wait only for the line
        state = resp.first("+CPIN:")
        if state is None:
            raise ModemUnavailable(f"{self.port}: no +CPIN answer")
        return state.strip('"')

    def close(self) -> None:
        """Stop the reader thread and close the port; never raises."""
        comms, self._comms = self._comms, None
        if comms is None:
            return
        try:
            comms.close()
        except Exception:  # close must not raise
            log.warning("modem.close_failed port=%s", self.port, exc_info=True)

    def alive(self) -> bool:
        """Reader thread alive AND port open (gsmmodem's own `alive` can lie: MODEM-NOTES 8)."""
        comms = self._comms
        return (
            comms is not None
            and self._fatal is None
            and bool(comms.alive)
            and comms.reader_alive()
            and comms.serial is not None
            and comms.serial.is_open
        )

    def ping(self, timeout: float = 2.0) -> bool:
        try:
            self._at("AT", timeout=timeout)
        except (ModemUnavailable, CommandFailed):
            return False
        return True

    # ------------------------------------------------------------ state

    def health(self) -> Health:
        csq_value = self._optional("AT+CSQ", "+CSQ:", Limit.NO_SIGNAL)
        csq = _number((csq_value or "").split(",")[0])
        if csq == 99:
            csq = None
        cops = quoted(self._optional("AT+COPS?", "+COPS:") or "")
        creg = self._optional("AT+CREG?", "+CREG:", Limit.NO_REGISTRATION)
        if creg is None:  # no AT+CREG?: an operator named by AT+COPS? means registered
            stat = 1 if cops else 0
        else:
            fields = creg.split(",")
            stat = (_number(fields[1]) if len(fields) > 1 else None) or 0
        try:
            sim = self._sim_state()
        except CommandFailed as exc:
            sim = f"ERROR {exc.final}"
        return Health(
            signal_dbm=csq_to_dbm(csq) if csq is not None else None,
            signal_csq=csq,
            registered=stat in (1, 5),
            roaming=stat == 5,
            operator=cops[0] if cops else None,
            sim=sim,
            imei=self._optional("AT+CGSN", ""),
            imsi=self._optional("AT+CIMI", ""),
            model=self._optional("AT+CGMM", ""),
        )

    def own_number(self) -> str:
        """The SIM's own number (AT+CNUM), "" when the SIM does not hold it (many prepaid SIMs
        do not) or the modem will not say."""
        fields = quoted(self._optional("AT+CNUM", "+CNUM:") or "")
        return fields[1] if len(fields) > 1 else ""

    def stored_count(self) -> int | None:
        """Received SMS waiting in storage (AT+CPMS? of the memories we read), None if the
        modem will not say. Reports in "SR" are not counted."""
        answer = self._optional("AT+CPMS?", "+CPMS:", Limit.NO_STORAGE_COUNT)
        if answer is None:
            return None
        fields = [f.strip() for f in answer.split(",")]
        used: dict[str, int] = {}
        for i in range(0, len(fields) - 2, 3):
            count = _number(fields[i + 1])
            name = fields[i].strip('"').upper()
            if count is not None and name in (self.memories or INBOX_MEMORIES):
                used[name] = count
        self.last_stored = sum(used.values()) if used else None
        return self.last_stored

    def _optional(self, command: str, prefix: str, limit: Limit | None = None) -> str | None:
        try:
            resp = self._at(command, prefix or None)
        except CommandFailed as exc:
            if limit is not None:
                self.limits.setdefault(limit, f"{command}: {exc.final}")
            return None
        if prefix:
            return resp.first(prefix)
        return resp.info[0].strip() if resp.info else None

    def ussd(self, code: str, timeout: float = 15.0) -> str | None:
        """The network's answer to a USSD code (`*101#`), as text; None when the modem refuses
        the request or no answer comes within `timeout` (the limitation no_ussd)."""
        command = f'AT+CUSD=1,"{code}",15'
        try:
            resp = self._at(command, "+CUSD:")
        except CommandFailed as exc:
            # Huawei sticks take text only after AT^USSDMODE=0 (else 7-bit packed hex).
            if not self._try("AT^USSDMODE=0"):
                self.limits.setdefault(Limit.NO_USSD, f"{command}: {exc.final}")
                return None
            try:
                resp = self._at(command, "+CUSD:")
            except CommandFailed as again:
                self.limits.setdefault(Limit.NO_USSD, f"{command}: {again.final}")
                return None
        found = resp.first("+CUSD:")
        line = f"+CUSD: {found}" if found is not None else self._wait_ussd(timeout)
        answer = unsolicited(line) if line else None
        if answer is not None and answer.status == 1:
            self._try("AT+CUSD=2")  # the network asks for more: end the session
        if answer is None or answer.text is None or answer.status not in (0, 1):
            self.limits.setdefault(Limit.NO_USSD, f"{command}: {line or 'no answer'}")
            return None
        return answer.text

    def _wait_ussd(self, timeout: float) -> str | None:
        """The +CUSD URC (its string may span lines), taken out of the URC hints."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            self._take_urcs()
            for i, line in enumerate(self._urcs):
                if not line.startswith("+CUSD:"):
                    continue
                end = i + 1
                while line.count('"') % 2 and end < len(self._urcs):
                    line += "\n" + self._urcs[end]
                    end += 1
                if line.count('"') % 2 == 0:
                    del self._urcs[i:end]
                    return line
            time.sleep(0.05)
        return None

    def _try(self, command: str) -> bool:
        try:
            self._at(command)
        except CommandFailed:
            return False
        return True

    # ------------------------------------------------------------ storage

    def _listing(self, memories: list[str]) -> list[tuple[str, int, int, str, str | None]]:
        out = []
        for memory in memories:
            self._select(memory)
            resp = self._at("AT+CMGL=4", "+CMGL:", timeout=max(self.command_timeout, 30.0))
            for entry in parse_cmgl(resp.info):
                out.append((memory, entry.index, entry.stat, entry.pdu, entry.problem))
        return out

    def list_stored(self) -> list[StoredSms]:
        """Every received message in every memory, oldest index first, then those handed over
        directly (+CMT, `direct=True`); deletes nothing. A PDU we cannot decode is returned raw
        with corrupt=True."""
        found: list[StoredSms] = []
        for memory, index, stat, pdu, problem in self._listing(self.memories):
            stored = self._stored(memory, index, stat, pdu, problem)
            if stored is not None:
                found.append(stored)
        self._take_urcs()
        direct, self._cmt = self._cmt, []
        for pdu in direct:
            stored = self._stored("", -1, 0, pdu.upper(), None)
            if stored is not None:
                found.append(stored)
        return found

    def _stored(
        self, memory: str, index: int, stat: int, pdu: str, problem: str | None
    ) -> StoredSms | None:
        decoded: Deliver | StatusReportPdu | None = None
        if problem is None:
            try:
                decoded = decode_pdu(pdu)
            except PduDecodeError as exc:
                problem = str(exc)
        if isinstance(decoded, StatusReportPdu):
            return None
        if decoded is None:
            log.warning(
                "modem.corrupt_pdu port=%s memory=%s index=%s problem=%s pdu=%s",
                *(self.port, memory or "+CMT", index, problem, pdu[:400]),
            )
        return StoredSms(
            index=index,
            memory=memory,
            status=status_word(stat),
            pdu=pdu,
            sender=decoded.sender if decoded else "",
            smsc_time=decoded.smsc_time if decoded else UNKNOWN_TIME,
            text=decoded.text if decoded else "",
            concat=decoded.concat if decoded else None,
            digest=digest(pdu),
            corrupt=decoded is None,
            problem=problem,
            direct=not memory,
        )

    def status_reports(self) -> list[StatusReport]:
        """Stored status reports ("SR", or with the received messages where the modem keeps
        them there), plus any +CDS seen in the URC stream."""
        reports = []
        for memory, index, _stat, pdu, problem in self._listing(self.report_memories):
            if problem is None:
                try:
                    decoded = decode_pdu(pdu)
                except PduDecodeError:
                    if memory == "SR":
                        log.warning("modem.corrupt_report index=%s pdu=%s", index, pdu[:400])
                        self.delete(index, memory)  # else "SR" fills with what nobody can read
                    continue  # in SM/ME list_stored() reports it
                if isinstance(decoded, StatusReportPdu):
                    reports.append(_report(decoded, index, memory))
        self._take_urcs()
        cds, self._cds = self._cds, []
        for pdu in cds:
            try:
                decoded = decode_pdu(pdu)
            except PduDecodeError:
                log.warning("modem.corrupt_cds port=%s pdu=%s", self.port, pdu[:400])
                continue
            if isinstance(decoded, StatusReportPdu):
                reports.append(_report(decoded, None, None))
        return reports

    def delete(self, index: int, memory: str | None = None) -> None:
        self._select(memory or self._mem1 or (self.memories[0] if self.memories else "SM"))
        self._at(f"AT+CMGD={int(index)}", retry_busy=True)

    def delete_report(self, report: StatusReport) -> None:
        if report.index is not None:
            self.delete(report.index, report.memory)

    def _select(self, memory: str) -> None:
        if memory != self._mem1:
            self._at(f'AT+CPMS="{memory}"', retry_busy=True)
            self._mem1 = memory

    # ------------------------------------------------------------ sending

    def send(self, part: PartToSend) -> int:
        """Submit one part; returns the +CMGS message reference."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("Device used from two threads at once")
        try:
            return self._send(part)
        finally:
            self._lock.release()

    def _send(self, part: PartToSend) -> int:
        comms = self._ready()
        command = f"AT+CMGS={part.tpdu_length}"
        try:
            lines = self._write(command + "\r", "> ", self.command_timeout)
        except _PartialAnswer as exc:
            self._escape(comms)
            raise SendFailed(None, SendVerdict.RETRY_HERE, "no prompt") from exc
        prompt = split_response(lines, command)
        self._note(prompt.urcs)
        if not any(line.strip() == ">" for line in lines):
            raise self._send_error(prompt)
        try:
            lines = self._write(part.pdu_hex + CTRL_Z, None, self.send_timeout)
        except _PartialAnswer as exc:
            self._escape(comms)
            raise SendFailed(None, SendVerdict.RETRY_HERE, "no answer to the PDU") from exc
        resp = split_response(lines, part.pdu_hex, "+CMGS:")
        self._note(resp.urcs)
        value = resp.first("+CMGS:")
        mr = _number((value or "").split(",")[0])
        if not resp.ok or mr is None:
            raise self._send_error(resp)
        log.info("sms.part_submitted port=%s mr=%s part=%s/%s", self.port, mr, part.seq, part.total)
        return mr

    def _send_error(self, resp: Response) -> SendFailed:
        code = resp.error_code()
        if code is not None:
            return SendFailed(code[1], classify_cms(code[1]), resp.final or "")
        return SendFailed(None, SendVerdict.RETRY_HERE, resp.final or "no final result")

    def _escape(self, comms: FixedSerialComms) -> None:
        """After a send timeout: ESC leaves SMS input mode (MODEM-NOTES 9)."""
        self._dirty = True
        try:
            self._write(ESC, None, 0)
        except ModemUnavailable:
            log.info("modem.escape_failed port=%s", self.port)

    # ------------------------------------------------------------ URCs

    def _take_line(self, line: str) -> None:  # reader thread
        self._incoming.append(line)
        if self.on_urc is not None:
            self.on_urc()

    def drain_urcs(self) -> list[str]:
        """URC lines seen since the last call, oldest first (hints: poll sooner, reconnect)."""
        self._take_urcs()
        urcs, self._urcs = self._urcs, []
        return urcs

    def _take_urcs(self) -> None:
        while self._incoming:
            self._note([self._incoming.popleft()], stream=True)

    def _note(self, lines: list[str], stream: bool = False) -> None:
        """Sort URC lines: +CMT / +CDS with the PDU line that follows them, late +CMGS answers,
        the rest as hints. `stream`: lines of the URC stream, where a PDU line may come in a
        later call; otherwise the URCs of one response, complete in themselves."""
        pending = self._pdu_next if stream else None
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if pending is not None:
                pending.append(line)
                pending = None
                continue
            if STRAY.match(line):
                log.info("modem.stray_line port=%s line=%r", self.port, line[:80])
                mr = _number(line[6:].split(",")[0]) if line.startswith("+CMGS:") else None
                if mr is not None:
                    self.stray_refs.append(mr)  # a send's answer that came after a restart
                continue
            if line.startswith("+CDS:"):
                pending = self._cds
            elif line.startswith("+CMT:"):
                pending = self._cmt
            self._urcs.append(line)
        if stream:
            self._pdu_next = pending

    def _on_fatal(self, exc: BaseException) -> None:  # reader thread: record only
        self._fatal = exc

    # ------------------------------------------------------------ AT plumbing

    def _ready(self) -> FixedSerialComms:
        comms = self._comms
        if comms is None or not self.alive():
            raise ModemUnavailable(f"{self.port}: not connected ({self._fatal or 'closed'})")
        if self._dirty:
            self._dirty = False
            try:
                self._write(ESC, None, 0)
                self._write("AT\r", None, min(2.0, self.command_timeout))
            except _PartialAnswer as exc:
                self._dirty = True
                raise ModemUnavailable(f"{self.port}: no answer after a timeout") from exc
            time.sleep(0.05)  # let a late answer to the timed-out command arrive as a stray
        return comms

    def _write(self, data: str, prompt: str | None, timeout: float) -> list[str]:
        """Raw exchange through gsmmodem's SerialComms.write; timeout 0 writes only."""
        comms = self._comms
        if comms is None:
            raise ModemUnavailable(f"{self.port}: not connected")
        try:
            if timeout <= 0:
                comms.write(data, waitForResponse=False)
                return []
            lines: list[str] = comms.write(
                data, waitForResponse=True, timeout=timeout, expectedResponseTermSeq=prompt
            )
            if not self.alive():  # woken by the reader as it died: no answer is coming
                raise ModemUnavailable(f"{self.port}: port lost")
            return lines
        except TimeoutException as exc:
            if not self.alive():
                raise ModemUnavailable(f"{self.port}: port lost") from exc
            self._dirty = True
            raise _PartialAnswer(exc.data or []) from exc
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise ModemUnavailable(f"{self.port}: {exc}") from exc

    def _at(
        self,
        command: str,
        prefix: str | None = None,
        *,
        timeout: float | None = None,
        retry_busy: bool = False,
    ) -> Response:
        """One AT command; raises CommandFailed on an error final, ModemUnavailable when the
        modem does not answer, _PartialAnswer when it answered without a final result."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("Device used from two threads at once")
        try:
            limit = self.command_timeout if timeout is None else timeout
            deadline = time.monotonic() + limit
            while True:
                self._ready()
                try:
                    lines = self._write(command + "\r", None, limit)
                except _PartialAnswer as partial:
                    resp = split_response(partial.lines, command, prefix)
                    self._note(resp.urcs)
                    if resp.info:
                        raise _PartialAnswer(partial.lines, resp) from None
                    raise ModemUnavailable(f"{self.port}: no answer to {command}") from None
                resp = split_response(lines, command, prefix)
                self._note(resp.urcs)
                self._note_late_answers(resp)
                if resp.ok:
                    return resp
                code = resp.error_code()
                if retry_busy and code in BUSY and time.monotonic() < deadline:
                    time.sleep(0.25)  # SIM busy after boot: bounded by the command timeout
                    continue
                raise CommandFailed(command, resp.final or "no final result")
        finally:
            self._lock.release()

    def _note_late_answers(self, resp: Response) -> None:
        """A "+CMGS: <mr>" inside another command's answer: a send that completed after its
        service died, answered to the next one (the MR of a part now in doubt)."""
        for line in resp.info:
            if line.startswith("+CMGS:"):
                mr = _number(line[6:].split(",")[0])
                if mr is not None:
                    log.info("modem.late_send_answer port=%s mr=%s", self.port, mr)
                    self.stray_refs.append(mr)


class _PartialAnswer(ModemUnavailable):
    """A command timed out; `lines` is what came before the timeout."""

    def __init__(self, lines: list[str], response: Response | None = None) -> None:
        super().__init__("timeout")
        self.lines = lines
        self.response = response or split_response(lines, "")


def _number(field: str) -> int | None:
    """A field of plain ASCII digits as an int, else None (a modem's garbage never raises)."""
    field = field.strip()
    return int(field) if field.isascii() and field.isdigit() else None
