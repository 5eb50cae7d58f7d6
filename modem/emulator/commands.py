"""General commands: V.250 basic commands and TS 27.007 identity, SIM, network, control."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Op
from modem.emulator.errors import cme, syntax, unsupported
from modem.emulator.state import SimState
from modem.emulator.textmode import CHARSETS

if TYPE_CHECKING:
    from modem.emulator.device import EmulatedModem

log = logging.getLogger(__name__)

Handler = Callable[["EmulatedModem", Command], list[str]]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


def is_number(value: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "¹" (latin-1 bytes), which int()
    refuses."""
    return value.isascii() and value.isdigit()


def int_arg(cmd: Command, i: int, lo: int, hi: int, default: int | None = None) -> int:
    value = cmd.arg(i)
    if value is None:
        if default is None:
            raise syntax()
        return default
    if not is_number(value) or not lo <= int(value) <= hi:
        raise syntax()
    return int(value)


def basic(dev: EmulatedModem, cmd: Command) -> list[str]:
    """V.250 basic commands (ATE0, ATZ, ATI, AT&F, ATS0=0 ...); anything else is an ERROR."""
    value = int(cmd.args[0]) if cmd.args and is_number(cmd.args[0]) else 0
    name = cmd.name
    if name == "E" and cmd.op is not Op.READ:
        if value > 1:
            raise syntax()
        if not dev.quirks.echo_stuck or value == 1:
            dev.settings.echo = value == 1
        return []
    if name == "V" and cmd.op is not Op.READ:
        dev.settings.verbose = value == 1
        return []
    if name == "Q" and cmd.op is not Op.READ:
        dev.settings.quiet = value == 1
        return []
    if name in ("Z", "&F"):
        dev.reset_settings()
        return []
    if name == "I":
        return [dev.identity.manufacturer, dev.identity.model, f"Revision: {dev.identity.revision}"]
    if name in ("X", "&C", "&D", "&W", "&K", "H", "L", "M") and cmd.op is not Op.READ:
        return []
    if name.startswith("S") and is_number(name[1:]):
        if cmd.op is Op.READ:
            return [{"S3": "013", "S4": "010", "S5": "008"}.get(name, "000")]
        return []
    if name in ("D", "A"):  # no voice or data calls on this modem
        raise cme(4)
    raise unsupported()


@handles("+CGMI", "+GMI")
def cgmi(dev: EmulatedModem, cmd: Command) -> list[str]:
    return _identity(cmd, dev.identity.manufacturer)


@handles("+CGMM", "+GMM")
def cgmm(dev: EmulatedModem, cmd: Command) -> list[str]:
    return _identity(cmd, dev.identity.model)


@handles("+CGMR", "+GMR")
def cgmr(dev: EmulatedModem, cmd: Command) -> list[str]:
    if dev.profile.revision is None:
        raise syntax()
    return _identity(cmd, f"Revision: {dev.identity.revision}")


@handles("+CGSN", "+GSN")
def cgsn(dev: EmulatedModem, cmd: Command) -> list[str]:
    return _identity(cmd, dev.identity.imei)


def _identity(cmd: Command, value: str) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    if cmd.op is not Op.EXEC:
        raise syntax()
    return [value]


@handles("+GCAP")
def gcap(dev: EmulatedModem, cmd: Command) -> list[str]:
    return ["+GCAP: +CGSM"]


@handles("+CIMI")
def cimi(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    dev.require_sim("cme")
    return [dev.identity.imsi]


@handles("+CMEE")
def cmee(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f"+CMEE: {dev.settings.cmee}"]
    if cmd.op is Op.TEST:
        return ["+CMEE: (0-2)"]
    dev.settings.cmee = int_arg(cmd, 0, 0, 2, 0)
    return []


@handles("+CPIN")
def cpin(dev: EmulatedModem, cmd: Command) -> list[str]:
    sim = dev.sim
    if cmd.op is Op.TEST:
        return []
    if sim.state is SimState.ABSENT:
        raise cme(10)
    if dev.sim_busy():
        raise cme(14)
    if cmd.op is Op.READ:
        if dev.quirks.cpin_without_ok:
            dev.no_final = True
        return [f"+CPIN: {sim.state.value}"]
    if cmd.op is not Op.SET:
        raise syntax()
    code = cmd.arg(0)
    if code is None:
        raise syntax()
    if sim.state is SimState.READY:
        raise cme(3)
    if sim.state is SimState.SIM_PIN:
        if code == sim.pin:
            sim.state = SimState.READY
            sim.pin_attempts = 3
            return []
        sim.pin_attempts -= 1
        if sim.pin_attempts <= 0:
            sim.state = SimState.SIM_PUK
        raise cme(16)
    new_pin = cmd.arg(1)
    if new_pin is None:
        raise cme(12)
    if code == sim.puk:
        sim.pin, sim.state, sim.pin_attempts, sim.puk_attempts = new_pin, SimState.READY, 3, 10
        return []
    sim.puk_attempts -= 1
    if sim.puk_attempts <= 0:
        sim.state = SimState.ABSENT
        raise cme(13)
    raise cme(16)


@handles("+CSQ")
def csq(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return ["+CSQ: (0-31,99),(0-7,99)"]
    if cmd.op is not Op.EXEC:
        raise syntax()
    return [f"+CSQ: {dev.rssi},99" if dev.registered() else "+CSQ: 99,99"]


def creg_stat(dev: EmulatedModem) -> int:
    return 1 if dev.registered() else 0


def creg_urc(dev: EmulatedModem) -> str:
    stat = creg_stat(dev)
    if dev.settings.creg_n == 2 and stat == 1:
        return f'+CREG: {stat},"2F1A","0B3C4D"'
    return f"+CREG: {stat}"


@handles("+CREG")
def creg(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return ["+CREG: (0-2)"]
    if cmd.op is Op.READ:
        n, stat = dev.settings.creg_n, creg_stat(dev)
        loc = ',"2F1A","0B3C4D"' if n == 2 and stat == 1 else ""
        return [f"+CREG: {n},{stat}{loc}"]
    if cmd.op is not Op.SET:
        raise syntax()
    dev.settings.creg_n = int_arg(cmd, 0, 0, 2, 0)
    return []


@handles("+CGREG")
def cgreg(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return ["+CGREG: (0-2)"]
    if cmd.op is Op.READ:
        return [f"+CGREG: {dev.creg_gprs_n},{creg_stat(dev)}"]
    dev.creg_gprs_n = int_arg(cmd, 0, 0, 2, 0)
    return []


@handles("+COPS")
def cops(dev: EmulatedModem, cmd: Command) -> list[str]:
    ident = dev.identity
    if cmd.op is Op.TEST:
        return [
            f'+COPS: (2,"{ident.operator_long}","{ident.operator_short}",'
            f'"{ident.operator_numeric}",2),(1,"Vinaphone","VINAPHONE","45202",2),'
            '(1,"MobiFone","MOBIFONE","45201",2),,(0-4),(0-2)'
        ]
    if cmd.op is Op.READ:
        if not dev.registered():
            return ["+COPS: 0"]
        fmt = dev.settings.cops_format
        name = (ident.operator_long, ident.operator_short, ident.operator_numeric)[fmt]
        return [f'+COPS: 0,{fmt},"{name}",2']
    if cmd.op is not Op.SET:
        raise syntax()
    mode = int_arg(cmd, 0, 0, 4, 0)
    if mode == 3 or cmd.arg(1) is not None:
        dev.settings.cops_format = int_arg(cmd, 1, 0, 2, 0)
    return []


@handles("+CFUN")
def cfun(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f"+CFUN: {dev.cfun}"]
    if cmd.op is Op.TEST:
        return ["+CFUN: (0,1,4),(0-1)"]
    if cmd.op is not Op.SET:
        raise syntax()
    fun = int_arg(cmd, 0, 0, 4)
    if fun not in (0, 1, 4):
        raise cme(4)
    was = dev.registered()
    dev.cfun = fun
    dev.registration_changed(was)
    if int_arg(cmd, 1, 0, 1, 0) == 1:
        dev.reboot_later()
    return []


@handles("+CSCS")
def cscs(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f'+CSCS: "{dev.settings.cscs}"']
    if cmd.op is Op.TEST:
        return ["+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")"]
    charset = (cmd.arg(0) or "").upper()
    if charset not in CHARSETS:
        raise cme(4)
    dev.settings.cscs = charset
    return []


@handles("+CNUM")
def cnum(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    dev.require_sim("cme")
    number = dev.identity.own_number
    if not number:
        return []
    return [f'+CNUM: "","{number}",{145 if number.startswith("+") else 129}']


@handles("+CPAS")
def cpas(dev: EmulatedModem, cmd: Command) -> list[str]:
    return ["+CPAS: (0-5)"] if cmd.op is Op.TEST else ["+CPAS: 0"]


@handles("+CLIP", "+CRC", "+CVHU", "+CLIR", "+COLP", "+CMER")
def harmless(dev: EmulatedModem, cmd: Command) -> list[str]:
    """Accepted settings with no effect on SMS (call presentation and the like)."""
    key = cmd.name[1:].lower()
    if cmd.op is Op.SET:
        if hasattr(dev.settings, key):
            setattr(dev.settings, key, int_arg(cmd, 0, 0, 1, 0))
        return []
    if cmd.op is Op.READ:
        if cmd.name == "+CLIP":
            return [f"+CLIP: {dev.settings.clip},1"]
        value = getattr(dev.settings, key, 0)
        return [f"{cmd.name}: {value}"]
    if cmd.op is Op.TEST:
        return [f"{cmd.name}: (0,1)"]
    return []


@handles("+CLCC", "+CHUP")
def no_calls(dev: EmulatedModem, cmd: Command) -> list[str]:
    return []


@handles("+CLAC")
def clac(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is not Op.EXEC:
        raise syntax()
    basics = ["ATE", "ATI", "ATQ", "ATV", "ATZ", "AT&F", "AT&W", "AT&C", "AT&D"]
    return basics + ["AT" + name for name in dev.command_names()]


# -- vendor commands, known only to the families whose profile lists them ---------------------


def _vendor(dev: EmulatedModem, cmd: Command) -> None:
    if cmd.name not in dev.profile.vendor_commands:
        raise unsupported()


@handles("^CURC")
def curc(dev: EmulatedModem, cmd: Command) -> list[str]:
    """Huawei: periodic URCs (^RSSI, ^MODE, ^DSFLOWRPT...) on (1) or off (0)."""
    _vendor(dev, cmd)
    if cmd.op is Op.READ:
        return [f"^CURC: {0 if dev.quirks.vendor_urc_interval <= 0 else 1}"]
    if cmd.op is Op.TEST:
        return ["^CURC: (0-1)"]
    on = int_arg(cmd, 0, 0, 1)
    dev.set_quirks(vendor_urc_interval=dev.profile.vendor_urc_interval if on else 0.0)
    return []


@handles("^USSDMODE")
def ussdmode(dev: EmulatedModem, cmd: Command) -> list[str]:
    """Huawei: USSD strings as 7-bit packed hex (1, the default) or as text (0)."""
    _vendor(dev, cmd)
    if cmd.op is Op.READ:
        return [f"^USSDMODE: {dev.ussd_packed}"]
    if cmd.op is Op.TEST:
        return ["^USSDMODE: (0-1)"]
    dev.ussd_packed = int_arg(cmd, 0, 0, 1)
    return []


@handles("+CUSD")
def cusd(dev: EmulatedModem, cmd: Command) -> list[str]:
    """USSD (TS 27.007 7.15): AT+CUSD=1,"*101#",15 answers OK; the network's answer comes a
    moment later as +CUSD: 0,"...",15 (modem/emulator/prepaid.py)."""
    if cmd.op is Op.TEST:
        return ["+CUSD: (0-2)"]
    if cmd.op is Op.READ:
        return ["+CUSD: 1"]
    if cmd.op is not Op.SET:
        raise syntax()
    n = int_arg(cmd, 0, 0, 2, 0)
    code = cmd.arg(1)
    if n == 2 or code is None:
        return []
    if dev.ussd_packed:  # a Huawei in ^USSDMODE=1 takes only 7-bit packed hex
        raise syntax()
    dev.require_sim("cme")
    if not dev.registered():
        raise cme(30)  # no network service
    dev.ussd_later(code)
    return []
