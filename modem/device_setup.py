"""Setting a modem up for SMS: ask what it offers (`=?`), choose, fall back, and note what it
cannot do instead of giving up.

Modems differ (see modem/emulator/README.md for the families we model): a Wavecom Fastrack lists
two memory lists in `AT+CPMS=?` and refuses the three-memory `AT+CPMS=`; a SIM800 cannot store
status reports (no `<ds>`=2); some answer `AT+CVHU=0` with ERROR. Only two things are required:
PDU mode (`AT+CMGF=0`: text mode cannot carry Vietnamese through python-gsmmodem, MODEM-NOTES 11)
and a way to read received messages (storage, or +CMT when nothing else is offered). Everything
else that fails is a `Limit`, returned with the failing command and its answer: the owner logs
it once and publishes it for the pool page.

Called from `Device.connect` on the owner thread, with `Device._at` as `at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.core.modem_limits import Limit
from modem.device_parse import Response, answer_lists, range_values
from modem.errors import CommandFailed, ModemUnavailable

log = logging.getLogger(__name__)

At = Callable[..., Response]
INBOX_MEMORIES = ("SM", "ME")  # "MT" is both at once on some modems: listing it would double up
REPORT_MEMORY = "SR"
# Tried in this order after the one the probe chose (if any): storage-based delivery first.
CNMI_FALLBACKS = (
    "AT+CNMI=2,1,0,2,0",
    "AT+CNMI=2,1,0,1,0",
    "AT+CNMI=1,1,0,2,0",
    "AT+CNMI=1,1,0,1,0",
    "AT+CNMI=2,1,0,2",
    "AT+CNMI=2,1,0,1",
    "AT+CNMI=2,1,0,0,0",
    "AT+CNMI=1,1,0,0,0",
    "AT+CNMI=2,1",
    "AT+CNMI=2,2,0,1,0",
    "AT+CNMI=2,2,0,0,0",
)


class Unsuitable(ModemUnavailable):
    """The modem answers but lacks something SMS cannot do without (PDU mode)."""

    def __init__(self, message: str, limits: dict[Limit, str]) -> None:
        super().__init__(message)
        self.limits = limits


@dataclass
class Setup:
    memories: list[str]  # where received SMS may be (listed every poll)
    report_memories: list[str]  # where stored status reports are (listed for reports)
    cnmi: str  # the AT+CNMI accepted, "" if none
    reports: str  # "stored" (ds=2), "direct" (+CDS, ds=1) or "none"
    direct_delivery: bool  # received SMS come as +CMT (mt=2)
    limits: dict[Limit, str] = field(default_factory=dict)


def numeric_errors(at: At) -> dict[Limit, str]:
    """AT+CMEE=1 (before the SIM is asked about, so that its errors carry codes)."""
    try:
        at("AT+CMEE=1")
    except CommandFailed as exc:
        return {Limit.NO_CMEE: _failure("AT+CMEE=1", exc)}
    return {}


def _failure(command: str, exc: CommandFailed) -> str:
    return f"{command}: {exc.final}"


def configure(at: At) -> Setup:
    """Everything after the SIM is open: PDU mode, storage, indications, options."""
    limits: dict[Limit, str] = {}
    try:
        at("AT+CMGF=0", retry_busy=True)
    except CommandFailed as exc:
        limits[Limit.NO_PDU] = _failure("AT+CMGF=0", exc)
        raise Unsuitable(f"PDU mode refused ({exc.final})", limits) from exc
    memories, report_memories = _storage(at, limits)
    cnmi = _indications(at, limits)
    reports, direct = cnmi_meaning(cnmi)
    if not cnmi:
        reports = "none"
    if reports == "direct":
        limits[Limit.REPORTS_DIRECT] = cnmi
    elif reports == "none":
        limits[Limit.NO_REPORTS] = cnmi or "AT+CNMI refused"
    if direct:
        limits[Limit.DIRECT_DELIVERY] = cnmi
    if reports != "stored":
        report_memories = []
    elif not report_memories:
        report_memories = list(memories)  # stored with the received messages (Telit, Quectel)
    for command, limit in (
        ("AT+CREG=1", None),
        ("AT+COPS=3,0", Limit.NO_OPERATOR_NAME),
        ("AT+CVHU=0", Limit.NO_HANGUP),
    ):
        try:
            at(command)
        except CommandFailed as exc:
            if limit is not None:
                limits[limit] = _failure(command, exc)
    return Setup(memories, report_memories, cnmi, reports, direct, limits)


def _storage(at: At, limits: dict[Limit, str]) -> tuple[list[str], list[str]]:
    """Memories to list, memories holding reports; selects the one new SMS are stored in with
    the longest `AT+CPMS=` form the modem takes (three, two or one memories)."""
    try:
        answer = at("AT+CPMS=?", "+CPMS:", retry_busy=True).first("+CPMS:") or ""
    except CommandFailed as exc:
        log.info("modem.cpms_test_refused final=%s", exc.final)
        answer = ""
    lists = answer_lists(answer)
    readable = [m.upper() for m in lists[0]] if lists else []
    storable = [m.upper() for m in lists[2]] if len(lists) > 2 else readable
    memories = [m for m in INBOX_MEMORIES if m in readable] or ["SM"]
    store = "ME" if "ME" in storable and "ME" in memories else memories[0]
    forms = [f'"{store}","{store}","{store}"', f'"{store}","{store}"', f'"{store}"']
    if 0 < len(lists) < 3:
        forms = forms[3 - len(lists) :]  # the modem said how many memories it takes
    tried = []
    for form in forms:
        command = f"AT+CPMS={form}"
        try:
            at(command, retry_busy=True)
            break
        except CommandFailed as exc:
            tried.append(_failure(command, exc))
    else:
        limits[Limit.STORAGE_FIXED] = "; ".join(tried)
    return memories, [REPORT_MEMORY] if REPORT_MEMORY in readable else []


def _indications(at: At, limits: dict[Limit, str]) -> str:
    """The AT+CNMI the modem accepted: the probe's choice first, then the fallbacks."""
    chosen = ""
    try:
        answer = at("AT+CNMI=?", "+CNMI:").first("+CNMI:")
        if answer:
            chosen = choose_cnmi(answer_lists(answer))
    except CommandFailed as exc:
        log.info("modem.cnmi_test_refused final=%s", exc.final)
    tried = []
    for command in dict.fromkeys([c for c in (chosen, *CNMI_FALLBACKS) if c]):
        try:
            at(command)
            return command
        except CommandFailed as exc:
            tried.append(_failure(command, exc))
    limits[Limit.NO_INDICATIONS] = "; ".join(tried[:3]) + (" ..." if len(tried) > 3 else "")
    return ""


def choose_cnmi(lists: list[list[str]]) -> str:
    """Storage-based delivery (mt=1) and stored reports (ds=2) where offered; +CMT / +CDS only
    when storage is not. "" when the answer cannot be understood."""
    if len(lists) < 2:
        return ""
    allowed = [range_values(group) for group in lists] + [set()] * (5 - len(lists))
    mode = next((m for m in (2, 1, 3) if m in allowed[0]), None)
    mt = next((m for m in (1, 3, 2) if m in allowed[1]), None)
    if mode is None or mt is None:
        return ""
    bm = 0 if not allowed[2] or 0 in allowed[2] else min(allowed[2])
    ds = next((d for d in (2, 1) if d in allowed[3]), 0)
    fields = [mode, mt, bm, ds]
    if allowed[4]:
        fields.append(0 if 0 in allowed[4] else min(allowed[4]))
    return "AT+CNMI=" + ",".join(str(f) for f in fields)


def cnmi_meaning(command: str) -> tuple[str, bool]:
    """("stored" | "direct" | "none", received SMS direct) for an accepted AT+CNMI."""
    fields = command.partition("=")[2].split(",") if command else []
    mt = fields[1].strip() if len(fields) > 1 else "0"
    ds = fields[3].strip() if len(fields) > 3 else "0"
    reports = {"2": "stored", "1": "direct"}.get(ds, "none")
    return reports, mt == "2"
