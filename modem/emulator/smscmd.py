"""SMS commands of TS 27.005: format, service centre, storage, listing, reading, sending."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from modem.emulator import pdu, textmode
from modem.emulator.atparse import Command, Op
from modem.emulator.commands import int_arg
from modem.emulator.errors import cms, syntax
from modem.emulator.fields import encode_address, encode_sca
from modem.emulator.state import STAT_WORDS, Memory, MsgStat, SmsInput, StoredPdu

if TYPE_CHECKING:
    from modem.emulator.device import EmulatedModem

log = logging.getLogger(__name__)

Handler = Callable[["EmulatedModem", Command], list[str]]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


@handles("+CMGF")
def cmgf(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f"+CMGF: {dev.settings.cmgf}"]
    if cmd.op is Op.TEST:
        if dev.config.text_only:
            return ["+CMGF: (1)"]
        return ["+CMGF: (0)" if dev.config.pdu_only else "+CMGF: (0-1)"]
    mode = int_arg(cmd, 0, 0, 1, 0)
    if (mode == 1 and dev.config.pdu_only) or (mode == 0 and dev.config.text_only):
        raise cms(303)
    dev.settings.cmgf = mode
    return []


@handles("+CSMS")
def csms(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f"+CSMS: {dev.settings.csms},1,1,1"]
    if cmd.op is Op.TEST:
        return ["+CSMS: (0-1)"]
    dev.settings.csms = int_arg(cmd, 0, 0, 1)
    return ["+CSMS: 1,1,1"]


@handles("+CNMA")
def cnma(dev: EmulatedModem, cmd: Command) -> list[str]:
    if dev.settings.csms == 0:
        raise cms(340)
    return []


@handles("+CSCA")
def csca(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    dev.require_sim("cms")
    if cmd.op is Op.READ:
        if dev.sim_busy() or not dev.identity.smsc:
            raise cms(330)
        number = textmode.te_encode(dev.identity.smsc, dev.settings.cscs)
        return [f'+CSCA: "{number}",{textmode.toa_of(dev.identity.smsc)}']
    raw = cmd.arg(0)
    if cmd.op is not Op.SET or raw is None:
        raise syntax()
    number = _typed_number(raw, dev.settings.cscs)
    try:
        encode_sca(number)  # every later SMS-DELIVER and status report carries it
    except ValueError as exc:
        raise cms(305) from exc
    dev.identity = type(dev.identity)(**{**vars(dev.identity), "smsc": number})
    return []


def _typed_number(raw: str, cscs: str) -> str:
    """A number as the TE typed it in its character set; bad hex (UCS2, HEX) is +CMS ERROR 305."""
    try:
        return textmode.te_decode(raw, cscs)
    except ValueError as exc:
        raise cms(305) from exc


@handles("+CSMP")
def csmp(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return ["+CSMP: " + ",".join(str(v) for v in dev.settings.csmp)]
    if cmd.op is Op.TEST:
        return []
    old = dev.settings.csmp
    fo, vp, pid, dcs = (int_arg(cmd, i, 0, 255, old[i]) for i in range(4))
    dev.settings.csmp = (fo, vp, pid, dcs)
    return []


@handles("+CSDH")
def csdh(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return [f"+CSDH: {dev.settings.csdh}"]
    if cmd.op is Op.TEST:
        return ["+CSDH: (0-1)"]
    dev.settings.csdh = int_arg(cmd, 0, 0, 1, 0)
    return []


def cnmi_ranges(dev: EmulatedModem) -> tuple[str, ...]:
    ranges = dev.profile.cnmi_ranges
    if dev.config.direct_only:  # a modem that cannot announce stored SMS: +CMT or nothing
        ranges = (ranges[0], "0,2", *ranges[2:])
    return ranges


def _allowed(spec: str) -> set[int]:
    values: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        values.update(range(int(low), int(high or low) + 1))
    return values


@handles("+CNMI")
def cnmi(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.READ:
        return ["+CNMI: " + ",".join(str(v) for v in dev.settings.cnmi)]
    ranges = cnmi_ranges(dev)
    if cmd.op is Op.TEST:
        return ["+CNMI: " + ",".join(f"({r})" for r in ranges)]
    if cmd.op is not Op.SET:
        raise syntax()
    limits = (3, 3, 3, 2, 1)
    mode, mt, bm, ds, bfr = (int_arg(cmd, i, 0, limits[i], 0) for i in range(5))
    for value, spec in zip((mode, mt, bm, ds, bfr), ranges, strict=False):
        if value not in _allowed(spec):
            raise cms(303)
    if bm not in (0, 2):
        raise cms(303)
    dev.settings.cnmi = (mode, mt, bm, ds, bfr)
    if mode != 0:
        dev.flush_cnmi_buffer(discard=bfr == 1)
    return []


def _memories(dev: EmulatedModem) -> tuple[Memory, Memory, Memory]:
    s = dev.storage
    return s.memories[s.mem1], s.memories[s.mem2], s.memories[s.mem3]


def _cpms_lists(dev: EmulatedModem) -> tuple[tuple[str, ...], ...]:
    if dev.config.profile is None:  # the generic modem: every memory it has, SM first
        names = tuple(sorted(dev.storage.memories, key=lambda n: n != "SM"))
        return (names, names, names)
    return dev.profile.cpms_lists


@handles("+CPMS")
def cpms(dev: EmulatedModem, cmd: Command) -> list[str]:
    lists = _cpms_lists(dev)
    if cmd.op is Op.TEST:
        shown = ",".join("(" + ",".join(f'"{n}"' for n in names) + ")" for names in lists)
        return [f"+CPMS: ({shown})" if dev.profile.cpms_wrapped else f"+CPMS: {shown}"]
    dev.require_sim("cms")
    if cmd.op is Op.READ:
        return ["+CPMS: " + ",".join(f'"{m.name}",{m.used},{m.capacity}' for m in _memories(dev))]
    if cmd.op is not Op.SET:
        raise syntax()
    if len(cmd.args) > len(lists):
        raise syntax()  # e.g. a Wavecom given three memories
    chosen = [cmd.arg(i) for i in range(len(lists))]
    if chosen[0] is None:
        raise syntax()
    for name, names in zip(chosen, lists, strict=False):
        if name is not None and (
            name.upper() not in names or name.upper() not in dev.storage.memories
        ):
            raise cms(302)
    store = dev.storage
    store.mem1 = chosen[0].upper()
    if len(chosen) > 1:
        store.mem2 = (chosen[1] or store.mem2).upper()
    if len(chosen) > 2:
        store.mem3 = (chosen[2] or store.mem3).upper()
    selected = _memories(dev)[: len(lists)]
    return ["+CPMS: " + ",".join(f"{m.used},{m.capacity}" for m in selected)]


def _stat_filter(dev: EmulatedModem, cmd: Command) -> int:
    value = cmd.arg(0)
    if dev.settings.cmgf == 1:
        if value is None:
            return 0
        if not cmd.quoted[0] or value.upper() not in STAT_WORDS:
            raise syntax()
        return STAT_WORDS[value.upper()]
    if value is None:
        return 0
    return int_arg(cmd, 0, 0, 4)


def _render(dev: EmulatedModem, index: int | None, msg: StoredPdu, prefix: str) -> list[str]:
    """One message as +CMGL (index given) or +CMGR shows it in the current mode."""
    head = f"{prefix}: " + (f"{index}," if index is not None else "")
    if dev.settings.cmgf == 0:
        return [f"{head}{msg.stat.value},,{msg.length}", msg.pdu]
    cscs = dev.settings.cscs
    if msg.report:
        report = pdu.decode_status_report(msg.pdu)
        return [f'{head}"{msg.stat.text}",' + textmode.report_fields(report, cscs)]
    deliver = pdu.decode_deliver(msg.pdu)
    header = textmode.deliver_header(prefix, deliver, msg.stat.text, cscs, dev.settings.csdh, 0)
    if index is not None:
        header = f"{prefix}: {index}," + header[len(prefix) + 2 :]
    return [header, textmode.body_on_wire(deliver.user_data, cscs)]


@handles("+CMGL")
def cmgl(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        if dev.settings.cmgf == 1:
            return ['+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")']
        return ["+CMGL: (0-4)"]
    if cmd.op is Op.READ:
        raise syntax()
    dev.require_sim("cms")
    wanted = _stat_filter(dev, cmd)
    memory = _memories(dev)[0]
    lines: list[str] = []
    for index in sorted(memory.slots):
        msg = memory.slots[index]
        if wanted not in (4, msg.stat.value):
            continue
        lines += _render(dev, index, msg, "+CMGL")
        if msg.stat is MsgStat.REC_UNREAD:
            msg.stat = MsgStat.REC_READ
    return lines


@handles("+CMGR")
def cmgr(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    if cmd.op is not Op.SET:
        raise syntax()
    dev.require_sim("cms")
    memory = _memories(dev)[0]
    index = int_arg(cmd, 0, 0, 65535)
    msg = memory.slots.get(index)
    if msg is None:
        raise cms(321)
    lines = _render(dev, None, msg, "+CMGR")
    if msg.stat is MsgStat.REC_UNREAD:
        msg.stat = MsgStat.REC_READ
    return lines


@handles("+CMGD")
def cmgd(dev: EmulatedModem, cmd: Command) -> list[str]:
    memory = _memories(dev)[0]
    if cmd.op is Op.TEST:
        used = ",".join(str(i) for i in sorted(memory.slots))
        return [f"+CMGD: ({used}),(0-4)"]
    if cmd.op is not Op.SET:
        raise syntax()
    dev.require_sim("cms")
    index = int_arg(cmd, 0, 0, 65535)
    flag = int_arg(cmd, 1, 0, 4, 0)
    if flag == 0:
        if not memory.holds_index(index):
            raise cms(321)
        memory.slots.pop(index, None)
        return []
    doomed = {
        1: {MsgStat.REC_READ},
        2: {MsgStat.REC_READ, MsgStat.STO_SENT},
        3: {MsgStat.REC_READ, MsgStat.STO_SENT, MsgStat.STO_UNSENT},
        4: set(MsgStat),
    }[flag]
    for i in [i for i, m in memory.slots.items() if m.stat in doomed]:
        del memory.slots[i]
    return []


@handles("+CMGS")
def cmgs(dev: EmulatedModem, cmd: Command) -> list[str]:
    if cmd.op is Op.TEST:
        return []
    if cmd.op is not Op.SET:
        raise syntax()
    dev.require_sim("cms")
    if dev.settings.cmgf == 0:
        length = int_arg(cmd, 0, 0, 255)
        if not 7 <= length <= 164:
            raise cms(304)
        dev.input = SmsInput(pdu_length=length)
        return []
    number = cmd.arg(0)
    if number is None or not cmd.quoted[0]:
        raise syntax()
    number = _typed_number(number, dev.settings.cscs)
    toda = int_arg(cmd, 1, 0, 255, textmode.toa_of(number))
    if not number.lstrip("+").replace("*", "").replace("#", "").isalnum():
        raise cms(305)
    try:
        encode_address(number, toda)  # as the status report will carry it
    except ValueError as exc:
        raise cms(305) from exc
    dev.input = SmsInput(destination=number, toda=toda)
    return []
