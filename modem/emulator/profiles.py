"""Model profiles: how each common modem family answers, from its manufacturer's AT command manual
and, where one exists, a captured session (python-gsmmodem's test/fakemodems.py, wader's ZTE
notes). modem/emulator/README.md lists every profile with its quirks and sources.

A profile changes the answers that differ between families (identity, `+CPMS` lists and how many
memories `AT+CPMS=` takes, where `<ds>`=2 stores status reports, the `+CNMI=?` ranges, index base,
the error word for an unknown command, boot and vendor URCs, exact answers to a few commands,
USSD) and leaves the rest to the standard behaviour of modem/emulator/device.py. `GENERIC` is the
emulator's behaviour before profiles existed (a Quectel UC20-like modem).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace

from modem.emulator.state import DeviceConfig, Identity, Quirks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    name: str
    family: str  # what an office would read on the box
    source: str  # where the answers come from (README.md gives the details)
    manufacturer: str  # AT+CGMI
    model: str  # AT+CGMM
    revision: str | None  # AT+CGMR; None: answers ERROR
    memories: tuple[tuple[str, int], ...] = (("SM", 30), ("ME", 100))  # name, capacity
    # The +CPMS=? lists (<mem1>, <mem2>, <mem3>); AT+CPMS= takes at most this many memories.
    cpms_lists: tuple[tuple[str, ...], ...] = (("SM", "ME"), ("SM", "ME"), ("SM", "ME"))
    cpms_wrapped: bool = False  # Wavecom: the lists inside one more pair of parentheses
    report_memory: str | None = None  # <ds>=2 stores reports here; None: with received SMS
    cnmi_ranges: tuple[str, ...] = ("0-3", "0-3", "0,2", "0-2", "0,1")
    index_base: int = 1  # first storage index (SIMCom LTE modules count from 0)
    unsupported: str = "ERROR"  # the final result of a command the modem does not know
    # After power-on; "{sim}" is the SIM state, a leading "!" marks a line sent only when the
    # SIM is ready.
    boot_urcs: tuple[str, ...] = ("RDY", "+CFUN: 1", "+CPIN: {sim}", "!SMS Ready")
    vendor_urcs: tuple[str, ...] = ()  # "{rssi}" is the signal; sent at random times
    vendor_urc_interval: float = 0.0  # mean seconds between vendor URCs (0: none)
    urc_in_response: bool = False  # vendor URCs land inside the next response
    cpin_without_ok: bool = False
    # Exact answers to exact command lines (what follows "AT", upper case): the last line is
    # the final result code.
    answers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    vendor_commands: tuple[str, ...] = ()  # vendor commands this family knows (commands.py)
    ussd_text_off: bool = False  # Huawei: AT+CUSD in text answers ERROR until AT^USSDMODE=0
    urcs_elsewhere: bool = False  # URCs go to another of the stick's ports, none to this one
    cmgs_seconds: float = 3.0  # typical AT+CMGS time on a live network (documentation)
    quirks: tuple[str, ...] = field(default=())  # one line each, for the README and `hoso sim`

    def answer(self, line: str) -> tuple[str, ...] | None:
        for command, lines in self.answers:
            if command == line:
                return lines
        return None


GENERIC = Profile(
    name="generic",
    family="Quectel UC20-like (the emulator's standard behaviour)",
    source="3GPP TS 27.005 / 27.007",
    manufacturer="Quectel",
    model="UC20",
    revision="UC20GQBR03A12E1G",
)

_WIND_BOOT = ("+WIND: 1", "+WIND: 3", "!+WIND: 4", "!+WIND: 7")
_HUAWEI_URCS = (
    "^RSSI: {rssi}",
    '^HCSQ: "WCDMA",{rssi},40,50',
    "^MODE: 5,4",
    "^DSFLOWRPT: 0000003C,00000000,00000000,0000000000000000,0000000000000000,0000,0000",
    "^BOOT: 20952066,0,0,0,72",
)
_QUECTEL_BOOT = (
    "RDY",
    "+CFUN: 1",
    "+CPIN: {sim}",
    "!+QUSIM: 1",
    "!+QIND: SMS DONE",
    "!+QIND: PB DONE",
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        GENERIC,
        Profile(
            name="wavecom-fastrack",
            family="Wavecom Fastrack (M1306B, MULTIBAND 900E 1800)",
            source="python-gsmmodem test/fakemodems.py WavecomMultiband900E1800 (captured); "
            "Wavecom AT Commands Interface Guide (+WIND)",
            manufacturer=" WAVECOM MODEM",
            model=" MULTIBAND  900E  1800",
            revision=None,
            memories=(("SM", 50), ("BM", 0), ("SR", 20)),
            cpms_lists=(("SM", "BM", "SR"), ("SM",)),
            cpms_wrapped=True,
            report_memory="SR",
            cnmi_ranges=("0-3", "0-3", "0-3", "0-2", "0,1"),
            boot_urcs=_WIND_BOOT,
            cpin_without_ok=True,
            answers=(
                ("+CVHU=0", ("ERROR",)),
                ("+CLAC", ("ERROR",)),
                ("+WIND?", ("+WIND: 0", "OK")),
            ),
            cmgs_seconds=4.0,
            quirks=(
                "AT+CPIN? answered without a final OK",
                'AT+CPMS=? lists two memory lists, (("SM","BM","SR"),("SM")): the three-memory '
                "AT+CPMS= answers ERROR, the two-memory form works",
                'status reports (<ds>=2) stored in "SR"',
                "AT+CVHU=0 and AT+CGMR answer ERROR",
                "+WIND indications after power-on",
            ),
        ),
        Profile(
            name="sierra-q24",
            family="Wavecom / Sierra Wireless Q24xx (Q2403A, Q2406B)",
            source="Wavecom AT Commands Interface Guide for Open AT firmware 6.57 (Q24 series); "
            "answers shared with the Fastrack capture",
            manufacturer="WAVECOM WIRELESS CPU",
            model="Q2406B",
            revision="R74_00gg.Q2406B 2120484 091207 17:47",
            memories=(("SM", 30), ("BM", 0), ("SR", 20)),
            cpms_lists=(("SM", "BM", "SR"), ("SM",)),
            cpms_wrapped=True,
            report_memory="SR",
            cnmi_ranges=("0-3", "0-3", "0-3", "0-2", "0,1"),
            boot_urcs=_WIND_BOOT,
            answers=(("+CVHU=0", ("ERROR",)),),
            cmgs_seconds=4.0,
            quirks=(
                "the Wavecom two-list AT+CPMS=? and two-memory AT+CPMS=",
                'status reports stored in "SR"',
                "+WIND indications after power-on; AT+CVHU=0 answers ERROR",
            ),
        ),
        Profile(
            name="huawei-e173",
            family="Huawei E-series USB stick (E173, E1752, K3715)",
            source="python-gsmmodem test/fakemodems.py HuaweiE1752 and HuaweiK3715 (captured); "
            "Huawei HSPA USB stick AT command interface specification (^RSSI, ^BOOT, ^MODE)",
            manufacturer="huawei",
            model="E173",
            revision="11.126.85.00.209",
            memories=(("SM", 30), ("ME", 100), ("MT", 0), ("SR", 20)),
            cpms_lists=(("ME", "MT", "SM", "SR"),) * 3,
            report_memory="SR",
            cnmi_ranges=("0-2", "0-3", "0,2", "0-2", "0,1"),
            unsupported="COMMAND NOT SUPPORT",
            boot_urcs=("^BOOT: 20952066,0,0,0,72", "+CPIN: {sim}"),
            vendor_urcs=_HUAWEI_URCS,
            vendor_urc_interval=2.0,
            urc_in_response=True,
            vendor_commands=("^CURC", "^USSDMODE"),
            answers=(("^PORTSEL=1", ("OK",)), ("^PORTSEL?", ("^PORTSEL: 0", "OK"))),
            ussd_text_off=True,
            quirks=(
                '"COMMAND NOT SUPPORT" instead of ERROR for an unknown command',
                "^RSSI, ^HCSQ, ^MODE, ^DSFLOWRPT, ^BOOT at any time, also inside a response "
                "(until AT^CURC=0)",
                'status reports stored in "SR"',
                "AT+CUSD in text answers ERROR until AT^USSDMODE=0",
            ),
        ),
        Profile(
            name="huawei-me909",
            family="Huawei ME909s LTE module (ME909s-120, ME909u)",
            source="Huawei ME909s Series LTE Module AT Command Interface Specification",
            manufacturer="Huawei Technologies Co., Ltd.",
            model="ME909s-120",
            revision="11.617.01.00.00",
            memories=(("SM", 30), ("ME", 100)),
            cpms_lists=(("SM", "ME"),) * 3,
            unsupported="COMMAND NOT SUPPORT",
            boot_urcs=("^SIMST: 1", "+CPIN: {sim}", "!^SRVST: 2"),
            vendor_urcs=('^HCSQ: "LTE",{rssi},40,50,20', "^SRVST: 2", "^RSSI: {rssi}"),
            vendor_urc_interval=3.0,
            vendor_commands=("^CURC",),
            urc_in_response=True,
            quirks=(
                "^HCSQ, ^SRVST, ^RSSI at any time, also inside a response",
                'no "SR" memory: status reports (<ds>=2) stored with received SMS',
                '"COMMAND NOT SUPPORT" for an unknown command',
            ),
        ),
        Profile(
            name="zte-mf",
            family="ZTE MF-series USB stick (MF190, MF627, K3565-Z)",
            source="python-gsmmodem test/fakemodems.py ZteK3565Z and QualcommM6280 (captured); "
            'wader\'s ZTE device plugin (+CDSI: "SR",50; no +CDS mode)',
            manufacturer="ZTE INCORPORATED",
            model="MF190",
            revision="BD_MF190V1.0.0B01",
            memories=(("SM", 15), ("ME", 100), ("MT", 0), ("SR", 100)),
            cpms_lists=(("ME", "MT", "SM", "SR"),) * 3,
            report_memory="SR",
            cnmi_ranges=("0-2", "0-3", "0,2", "0,2", "0,1"),
            boot_urcs=("+ZUSIMR:2", "+CPIN: {sim}", '!+ZPASR: "UMTS"'),
            vendor_urcs=('+ZPASR: "UMTS"', "+ZDONR: 45204,1", "+ZUSIMR:2"),
            vendor_urc_interval=4.0,
            answers=(
                ("+CFUN?", ("+CFUN: (0-1,4-7),(0-1)", "OK")),
                ("+CVHU=0", ("+CVHU: (0-1)", "OK")),
                ("+ZCDRUN=8", ("Close autorun state result(0:FAIL 1:SUCCESS):1", "OK")),
                ("+ZOPRT=5", ("OK",)),
            ),
            quirks=(
                "AT+CFUN? answers the test answer (+CFUN: (0-1,4-7),(0-1)), which crashes "
                "python-gsmmodem's connect()",
                "AT+CVHU=0 answers +CVHU: (0-1) before OK",
                'no <ds>=1: status reports only stored, in "SR" (100 places; SIM 15)',
                "+ZPASR, +ZDONR, +ZUSIMR at any time",
            ),
        ),
        Profile(
            name="simcom-sim800",
            family="SIMCom SIM800 / SIM800L / SIM800C (2G)",
            source="SIMCom SIM800 Series AT Command Manual V1.09",
            manufacturer="SIMCOM_Ltd",
            model="SIMCOM_SIM800L",
            revision="Revision:1418B04SIM800L24",
            memories=(("SM", 30), ("ME", 50), ("SM_P", 0), ("ME_P", 0), ("MT", 0)),
            cpms_lists=(("SM", "ME", "SM_P", "ME_P", "MT"),) * 3,
            cnmi_ranges=("0-3", "0-3", "0,2", "0,1", "0,1"),
            boot_urcs=("RDY", "+CFUN: 1", "+CPIN: {sim}", "!Call Ready", "!SMS Ready"),
            cmgs_seconds=3.5,
            quirks=(
                "no <ds>=2 (+CNMI=? offers (0,1)): status reports only as +CDS, never stored",
                "Call Ready / SMS Ready after power-on",
            ),
        ),
        Profile(
            name="simcom-sim7600",
            family="SIMCom SIM7600 (SIM7600E/G-H, LTE)",
            source="SIMCom SIM7500_SIM7600 Series AT Command Manual V2.00",
            manufacturer="SIMCOM INCORPORATED",
            model="SIMCOM_SIM7600G-H",
            revision="LE20B04SIM7600G22",
            memories=(("SM", 30), ("ME", 100), ("MT", 0), ("SR", 40)),
            cpms_lists=(("ME", "MT", "SM", "SR"),) * 3,
            report_memory="SR",
            cnmi_ranges=("0-2", "0-3", "0-3", "0-2", "0,1"),
            index_base=0,
            boot_urcs=("RDY", "+CPIN: {sim}", "!SMS DONE", "!PB DONE"),
            quirks=(
                "storage indexes start at 0",
                'status reports stored in "SR" (+CDSI: "SR",0)',
                "SMS DONE / PB DONE after power-on",
            ),
        ),
        Profile(
            name="quectel-ec25",
            family="Quectel EC25 (LTE Cat 4)",
            source="Quectel EC25&EC21 AT Commands Manual V1.3",
            manufacturer="Quectel",
            model="EC25",
            revision="EC25EFAR06A06M4G",
            memories=(("SM", 30), ("ME", 255), ("MT", 0)),
            cpms_lists=(("SM", "ME", "MT"),) * 3,
            boot_urcs=_QUECTEL_BOOT,
            vendor_urcs=('+QIND: "csq",{rssi},99',),
            quirks=(
                'no "SR" memory: status reports (<ds>=2) stored with received SMS',
                "+QUSIM / +QIND: SMS DONE / PB DONE after power-on; +QIND csq reports when "
                'switched on (AT+QINDCFG="csq",1; `hoso sim fault ... vendor-urcs S`)',
            ),
        ),
        Profile(
            name="quectel-eg25",
            family="Quectel EG25-G (LTE Cat 4, global bands)",
            source='Quectel EG25-G AT Commands Manual (EC25 command set); AT+QURCCFG="urcport"',
            manufacturer="Quectel",
            model="EG25",
            revision="EG25GGBR07A08M2G",
            memories=(("SM", 30), ("ME", 255), ("MT", 0)),
            cpms_lists=(("SM", "ME", "MT"),) * 3,
            boot_urcs=_QUECTEL_BOOT,
            urcs_elsewhere=True,
            quirks=(
                'URCs on the stick\'s other port (AT+QURCCFG="urcport","usbmodem"): no +CMTI, '
                "+CDSI or +CUSD on the AT port, storage must be polled, USSD cannot be read",
            ),
        ),
        Profile(
            name="quectel-m35",
            family="Quectel M35 (2G)",
            source="Quectel M35 AT Commands Manual V1.x",
            manufacturer="Quectel_Ltd",
            model="Quectel_M35",
            revision="M35FAR02A03",
            memories=(("SM", 30), ("ME", 50), ("MT", 0)),
            cpms_lists=(("SM", "ME", "MT"),) * 3,
            cnmi_ranges=("0-3", "0-3", "0,2", "0,1", "0,1"),
            boot_urcs=("RDY", "+CFUN: 1", "+CPIN: {sim}", "!Call Ready", "!SMS Ready"),
            cmgs_seconds=4.0,
            quirks=("no <ds>=2: status reports only as +CDS",),
        ),
        Profile(
            name="quectel-bg96",
            family="Quectel BG96 (LTE Cat M1 / NB-IoT)",
            source="Quectel BG96 AT Commands Manual V2.3",
            manufacturer="Quectel",
            model="BG96",
            revision="BG96MAR02A07M1G",
            memories=(("SM", 30), ("ME", 255), ("MT", 0)),
            cpms_lists=(("SM", "ME", "MT"),) * 3,
            boot_urcs=("RDY", "+CFUN: 1", "+CPIN: {sim}", "!+QIND: SMS DONE", "!APP RDY"),
            cmgs_seconds=5.0,
            quirks=(
                'no "SR" memory: status reports stored with received SMS',
                "APP RDY after power-on",
            ),
        ),
        Profile(
            name="telit-he910",
            family="Telit HE910 / UC864 (3G)",
            source="Telit HE863/HE910 AT Commands Reference Guide 80377ST10083a",
            manufacturer="Telit",
            model="HE910",
            revision="12.00.026",
            memories=(("SM", 30), ("ME", 8), ("BM", 0), ("SR", 8)),
            cpms_lists=(("BM", "ME", "SM", "SR"), ("SM", "ME"), ("ME", "SM")),
            report_memory="SR",
            cnmi_ranges=("0-3", "0-3", "0,2,3", "0-2", "0,1"),
            boot_urcs=(),
            quirks=(
                'status reports stored in "SR" (8 places, volatile)',
                "ME holds 8 SMS; nothing sent after power-on",
            ),
        ),
        Profile(
            name="telit-le910",
            family="Telit LE910 V2 (LTE)",
            source="Telit LE910 V2 Series AT Commands 80446ST10707A",
            manufacturer="Telit",
            model="LE910-EU V2",
            revision="20.00.402",
            memories=(("SM", 30), ("ME", 99)),
            cpms_lists=(("SM", "ME"), ("SM", "ME"), ("SM", "ME")),
            report_memory="SM",
            boot_urcs=(),
            quirks=('status reports stored in "SM" (+CDSI: "SM",<index>), with received SMS',),
        ),
        Profile(
            name="ublox-sara-u2",
            family="u-blox SARA-U201 / LISA-U2 (3G)",
            source="u-blox AT Commands Manual UBX-13002752",
            manufacturer="u-blox",
            model="SARA-U201",
            revision="23.60",
            memories=(("SM", 30), ("ME", 23), ("MT", 0), ("BM", 0), ("SR", 10)),
            cpms_lists=(("MT", "ME", "SM", "BM", "SR"), ("MT", "ME", "SM"), ("MT", "ME", "SM")),
            report_memory="SR",
            cnmi_ranges=("0-2", "0-3", "0-3", "0-2", "0,1"),
            boot_urcs=(),
            cmgs_seconds=3.5,
            quirks=('status reports stored in "SR"', "nothing sent after power-on"),
        ),
    )
}


class UnknownProfile(KeyError):
    """No profile with that name (see `PROFILES`)."""


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"{name!r}; known: {', '.join(PROFILES)}") from None


def config_for(profile: Profile | str, base: DeviceConfig | None = None) -> DeviceConfig:
    """A device configuration for `profile`, from `base` (latency, reports, faults...)."""
    p = profile_named(profile) if isinstance(profile, str) else profile
    config = copy.deepcopy(base) if base is not None else DeviceConfig()
    config.profile = p
    ident = config.identity
    config.identity = Identity(
        **{
            **vars(ident),
            "manufacturer": p.manufacturer,
            "model": p.model,
            "revision": p.revision or "",
        }
    )
    config.quirks = replace(
        config.quirks if base is not None else Quirks(),
        cpin_without_ok=p.cpin_without_ok or config.quirks.cpin_without_ok,
        vendor_urc_interval=p.vendor_urc_interval or config.quirks.vendor_urc_interval,
        urc_in_response=p.urc_in_response or config.quirks.urc_in_response,
    )
    return config
