"""What one emulated modem remembers: identity, SIM, network, settings, message storage, faults."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from modem.emulator.prepaid import Prepaid

if TYPE_CHECKING:
    from modem.emulator.profiles import Profile

log = logging.getLogger(__name__)


class UrcMode(StrEnum):
    POLITE = "polite"  # URCs held while a command runs or a line is being typed
    REALISTIC = "realistic"  # URCs the moment they happen, even inside a response


class SimState(StrEnum):
    READY = "READY"
    SIM_PIN = "SIM PIN"
    SIM_PUK = "SIM PUK"
    ABSENT = "ABSENT"


class MsgStat(IntEnum):
    """<stat> of TS 27.005 3.1 (PDU mode values); TEXT gives the text-mode words."""

    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3

    @property
    def text(self) -> str:
        return ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT")[self.value]


STAT_WORDS = {"REC UNREAD": 0, "REC READ": 1, "STO UNSENT": 2, "STO SENT": 3, "ALL": 4}


@dataclass(frozen=True)
class Identity:
    manufacturer: str = "Quectel"
    model: str = "UC20"
    revision: str = "UC20GQBR03A12E1G"
    imei: str = "861234567890123"
    imsi: str = "452040123456789"
    own_number: str = ""
    operator_long: str = "Viettel"
    operator_short: str = "VIETTEL"
    operator_numeric: str = "45204"
    smsc: str = "+84980200030"


@dataclass
class Quirks:
    """Departures from the standard seen on real modems; all off by default."""

    echo_stuck: bool = False  # ATE0 answers OK but echo stays on
    cpin_without_ok: bool = False  # AT+CPIN? answered without a final OK
    boot_busy_seconds: float = 0.0  # +CME ERROR: 14 / +CMS ERROR: 314 or 330 after boot
    boot_urcs: bool = True  # RDY, +CFUN: 1, +CPIN: READY, SMS Ready after power-on
    vendor_urc_interval: float = 0.0  # mean seconds between ^RSSI/^HCSQ/+QIND URCs; 0: none
    urc_in_response: bool = False  # pending vendor URCs go out after a response's first line


@dataclass
class Faults:
    """Failures switchable at run time."""

    error_share: float = 0.0  # share of AT+CMGS answered +CMS ERROR
    error_codes: tuple[int, ...] = (500,)
    hang: bool = False  # answers nothing at all
    network_lost: bool = False  # not registered; sends fail with +CMS ERROR: 331
    noise_share: float = 0.0  # share of output writes preceded by line noise (incl. non-UTF-8)


@dataclass
class VolatileSettings:
    """Volatile settings that ATZ / AT&F restore."""

    echo: bool = True
    verbose: bool = True  # ATV1
    quiet: bool = False  # ATQ1: no result codes
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "GSM"
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    csdh: int = 0
    cnmi: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)
    creg_n: int = 0
    cops_format: int = 0
    clip: int = 0
    crc: int = 0
    csms: int = 0


@dataclass
class Sim:
    state: SimState = SimState.READY
    pin: str = "1234"
    puk: str = "12345678"
    pin_attempts: int = 3
    puk_attempts: int = 10


@dataclass
class StoredPdu:
    stat: MsgStat
    pdu: str  # hex, SMSC address included
    length: int  # TPDU octets
    report: bool = False  # an SMS-STATUS-REPORT rather than an SMS-DELIVER


@dataclass
class Memory:
    name: str
    capacity: int
    slots: dict[int, StoredPdu] = field(default_factory=dict)
    base: int = 1  # the first index (0 on some modems)

    @property
    def used(self) -> int:
        return len(self.slots)

    def free_index(self) -> int | None:
        for index in range(self.base, self.base + self.capacity):
            if index not in self.slots:
                return index
        return None

    def holds_index(self, index: int) -> bool:
        return self.base <= index < self.base + self.capacity


@dataclass
class Storage:
    memories: dict[str, Memory]
    mem1: str = "SM"  # read, list, delete
    mem2: str = "SM"  # write, send from storage
    mem3: str = "SM"  # where received messages go

    @classmethod
    def default(cls, sm_capacity: int = 30, me_capacity: int = 100) -> Storage:
        return cls({"SM": Memory("SM", sm_capacity), "ME": Memory("ME", me_capacity)})

    @classmethod
    def of(cls, memories: tuple[tuple[str, int], ...], base: int = 1) -> Storage:
        return cls({name: Memory(name, capacity, base=base) for name, capacity in memories})


@dataclass
class DeviceConfig:
    identity: Identity = field(default_factory=Identity)
    urc_mode: UrcMode = UrcMode.REALISTIC
    latency: float = 0.0  # seconds per AT+CMGS part
    status_report_delay: float | None = 1.0  # None: the network sends no status reports
    status_report_status: int = 0  # TP-ST in reports: 0 delivered
    sm_capacity: int = 30
    me_capacity: int = 100
    pdu_only: bool = False  # AT+CMGF=1 refused, as on some data sticks
    text_only: bool = False  # AT+CMGF=0 refused (PDU mode missing: unusable for hoso)
    sim_state: SimState = SimState.READY
    seed: int | None = None
    quirks: Quirks = field(default_factory=Quirks)
    faults: Faults = field(default_factory=Faults)
    profile: Profile | None = None  # None: the generic modem (modem/emulator/profiles.py)
    prepaid: Prepaid = field(default_factory=Prepaid)  # balance, USSD answers
    ussd_delay: float = 0.3  # seconds before the network answers a USSD request
    direct_only: bool = False  # +CNMI <mt> limited to 0 and 2: received SMS come as +CMT


@dataclass
class SmsInput:
    """AT+CMGS waiting for its PDU or text after the "> " prompt."""

    pdu_length: int | None = None  # PDU mode
    destination: str = ""  # text mode
    toda: int | None = None
