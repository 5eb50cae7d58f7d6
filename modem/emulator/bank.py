"""A bank of emulated modems on pseudo-terminals: the Python API tests and demos use.

with Bank(tmp_path, modems=2) as bank:
    port = bank.port("m1")                # DIR/m1 -> /dev/pts/N
    bank.inject_sms("m1", "+84912345678", "HS 123")
    bank.wait_sent(1)
    bank.sent("m1")                       # whole messages submitted over the air
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType

from modem.emulator.device import EmulatedModem, local_now
from modem.emulator.ledger import Ledger, Sent
from modem.emulator.profiles import config_for
from modem.emulator.pty import PtyLoop, PtyPort
from modem.emulator.schedule import ThreadScheduler
from modem.emulator.state import DeviceConfig, Identity, UrcMode

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.jsonl"
CONTROL_SOCKET = "control.sock"


class ModemNotInBank(KeyError):
    """No modem with that id in the bank."""


class Bank:
    def __init__(
        self,
        directory: str | Path,
        modems: int | Sequence[str] = 2,
        *,
        latency: float = 0.0,
        urc_mode: UrcMode | str = UrcMode.REALISTIC,
        status_report_delay: float | None = 1.0,
        config: DeviceConfig | None = None,
        control: bool = True,
        wall: Callable[[], datetime] = local_now,
        seed: int | None = None,
        fresh_ledger: bool = False,
        profiles: Mapping[str, str] | str | None = None,
        direct_only: Sequence[str] = (),
    ) -> None:
        self.dir = Path(directory)
        self.ids = [f"m{i + 1}" for i in range(modems)] if isinstance(modems, int) else list(modems)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("modem ids must be unique")
        self._template = config or DeviceConfig()
        self._template.latency = latency
        self._template.urc_mode = UrcMode(urc_mode)
        self._template.status_report_delay = status_report_delay
        self._template.seed = seed
        # A model profile per modem (modem/emulator/profiles.py): one name for all, or by id.
        self._profiles = (
            dict.fromkeys(self.ids, profiles) if isinstance(profiles, str) else dict(profiles or {})
        )
        self._direct_only = frozenset(direct_only)  # ids whose +CNMI offers only <mt> 0 and 2
        self._control_enabled = control
        self._fresh_ledger = fresh_ledger  # else DIR/ledger.jsonl keeps earlier runs' records
        self._wall = wall
        self.ledger: Ledger | None = None
        self._devices: dict[str, EmulatedModem] = {}
        self._ports: dict[str, PtyPort] = {}
        self._loop: PtyLoop | None = None
        self._scheduler: ThreadScheduler | None = None
        self._control: object | None = None
        self._sent_cond = threading.Condition()

    # ---------------------------------------------------------------- life cycle

    def start(self) -> Bank:
        self.dir.mkdir(parents=True, exist_ok=True)
        ledger_path = self.dir / LEDGER_FILE
        if self._fresh_ledger:
            ledger_path.unlink(missing_ok=True)
        ledger_path.touch()
        self.ledger = Ledger(ledger_path)
        self._scheduler = ThreadScheduler()
        self._loop = PtyLoop()
        for n, modem_id in enumerate(self.ids):
            config = copy.deepcopy(self._template)
            if self._profiles.get(modem_id):
                config = config_for(self._profiles[modem_id], base=config)
            config.direct_only = modem_id in self._direct_only
            ident = config.identity
            config.identity = Identity(
                **{
                    **vars(ident),
                    "imei": f"{int(ident.imei) + n:015d}",
                    "imsi": f"{int(ident.imsi) + n:015d}",
                }
            )
            if config.seed is not None:
                config.seed += n
            port = PtyPort(self.dir / modem_id)
            device = EmulatedModem(
                modem_id,
                config,
                self._writer(port),
                self._scheduler,
                on_sent=self._record,
                wall=self._wall,
            )
            self._devices[modem_id] = device
            self._ports[modem_id] = port
            self._plug(modem_id)
        if self._control_enabled:
            from modem.emulator.control import ControlServer  # noqa: PLC0415 - control uses Bank

            server = ControlServer(self, self.dir / CONTROL_SOCKET)
            server.start()
            self._control = server
        log.info("bank.started dir=%s modems=%s", self.dir, ",".join(self.ids))
        return self

    def stop(self) -> None:
        from modem.emulator.control import ControlServer  # noqa: PLC0415

        if isinstance(self._control, ControlServer):
            self._control.stop()
        self._control = None
        for modem_id in list(self._devices):
            self._devices[modem_id].power_off()
            self._unplug_port(modem_id)
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        log.info("bank.stopped dir=%s", self.dir)

    def __enter__(self) -> Bank:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _writer(self, port: PtyPort) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            if self._loop is not None and port.is_open:
                self._loop.write(port, data)

        return write

    def _plug(self, modem_id: str) -> None:
        assert self._loop is not None
        port, device = self._ports[modem_id], self._devices[modem_id]
        port.open()
        self._loop.add(port, device.feed)
        device.boot()

    def _unplug_port(self, modem_id: str) -> None:
        port = self._ports[modem_id]
        if port.is_open and self._loop is not None:
            self._loop.remove(port)
        port.close()

    def _record(self, part: Sent) -> None:
        assert self.ledger is not None
        self.ledger.record_part(part)
        with self._sent_cond:
            self._sent_cond.notify_all()

    # ---------------------------------------------------------------- inspection

    def port(self, modem_id: str) -> Path:
        """The stable symlink a client opens."""
        self.device(modem_id)
        return self.dir / modem_id

    def device(self, modem_id: str) -> EmulatedModem:
        try:
            return self._devices[modem_id]
        except KeyError:
            raise ModemNotInBank(modem_id) from None

    def sent(self, modem_id: str | None = None, parts: bool = False) -> list[Sent]:
        """Whole messages submitted (or every part with parts=True), oldest first."""
        if self.ledger is None:
            return []
        if modem_id is not None:
            self.device(modem_id)
        return self.ledger.records(modem_id, "part" if parts else "message")

    def wait_sent(
        self, count: int, modem_id: str | None = None, timeout: float = 10.0, parts: bool = False
    ) -> list[Sent]:
        """Block until at least `count` messages are in the ledger; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            while len(records := self.sent(modem_id, parts)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(records)} of {count} messages sent")
                self._sent_cond.wait(left)
        return records

    # ---------------------------------------------------------------- network side

    def inject_sms(
        self, modem_id: str, sender: str, text: str, when: datetime | None = None
    ) -> list[int | None]:
        """A citizen's SMS arrives; returns the storage index of each part (None: not stored)."""
        return self.device(modem_id).inject_sms(sender, text, when=when)

    # ---------------------------------------------------------------- faults

    def unplug(self, modem_id: str) -> None:
        self.device(modem_id).power_off()
        self._unplug_port(modem_id)

    def replug(self, modem_id: str) -> None:
        if self._ports[modem_id].is_open:
            self.unplug(modem_id)
        self._plug(modem_id)

    def set_latency(self, seconds: float, modem_id: str | None = None) -> None:
        for mid in [modem_id] if modem_id else self.ids:
            self.device(mid).config.latency = seconds

    def set_urc_mode(self, mode: UrcMode | str, modem_id: str | None = None) -> None:
        for mid in [modem_id] if modem_id else self.ids:
            self.device(mid).config.urc_mode = UrcMode(mode)

    def fail_sends(self, modem_id: str, share: float, codes: Sequence[int] = (500,)) -> None:
        """A share (0..1) of AT+CMGS answered +CMS ERROR with one of `codes`."""
        faults = self.device(modem_id).faults
        faults.error_share = share
        faults.error_codes = tuple(codes) or (500,)

    def hang(self, modem_id: str, hang: bool = True) -> None:
        self.device(modem_id).set_hang(hang)

    def lose_network(self, modem_id: str, lost: bool = True) -> None:
        self.device(modem_id).set_network(lost)

    def add_noise(self, modem_id: str, share: float) -> None:
        self.device(modem_id).faults.noise_share = share

    def inject_bytes(self, modem_id: str, data: bytes) -> None:
        self.device(modem_id).inject_bytes(data)

    def set_quirks(self, modem_id: str, **quirks: object) -> None:
        self.device(modem_id).set_quirks(**quirks)

    def set_storage_capacity(self, modem_id: str, capacity: int, memory: str = "SM") -> None:
        self.device(modem_id).storage.memories[memory].capacity = capacity

    def set_balance(self, modem_id: str, vnd: int | None, price: int | None = None) -> None:
        """The SIM's prepaid balance (None: no balance, never refused) and a part's price."""
        prepaid = self.device(modem_id).config.prepaid
        prepaid.balance = vnd
        if price is not None:
            prepaid.price = price

    def set_ussd_answer(self, modem_id: str, text: str | None) -> None:
        """What the network answers any USSD code (None: the carrier's usual balance answer)."""
        self.device(modem_id).config.prepaid.answer = text

    def set_operator(self, modem_id: str, long_name: str, short: str, numeric: str) -> None:
        device = self.device(modem_id)
        device.identity = replace(
            device.identity,
            operator_long=long_name,
            operator_short=short,
            operator_numeric=numeric,
        )

    def clear_faults(self, modem_id: str) -> None:
        device = self.device(modem_id)
        device.set_hang(False)
        device.set_network(False)
        device.faults.error_share = 0.0
        device.faults.noise_share = 0.0
