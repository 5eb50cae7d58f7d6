"""The quirk matrix: every model profile of the emulator (modem/emulator/profiles.py) driven by the
real modem service (owner threads, python-gsmmodem-new's serial stack over a pty, a real Redis).

Each profile runs twice: as the family answers (received SMS stored, announced with +CMTI, or not
announced at all) and with a +CNMI that offers only direct delivery (<mt> 0 or 2: the SMS comes
as +CMT, nothing is stored). For each: the modem is identified, a single and a three-part
Vietnamese SMS are received, a reply leaves through it and its status report comes back. What a
profile cannot do is asserted as published (`limits` in its health), not failed.

One service drives every modem at once (30 modems): the tests share it and wait for what they
look at, so the matrix costs about what its slowest modem does.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
import redis
from rq import Queue

from config.settings import ModemSettings, PoolSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.core.modem_limits import Limit, parse_limits
from gateway.store.inbox import Inbound, Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE
from hoso.redis_server import RedisServer
from modem.device import Device
from modem.device_parse import range_values
from modem.emulator.bank import Bank
from modem.emulator.profiles import PROFILES
from modem.service import ModemService
from tests.conftest import REDIS_SERVER

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")
NAMES = sorted(PROFILES)
STYLES = ("cmti", "cmt")
SINGLE = unicodedata.normalize("NFC", "Tra cứu hồ sơ 000.00.20.H57-240423-0001 giúp tôi")
THREE_PARTS = unicodedata.normalize(
    "NFC",
    "Hồ sơ đất đai của tôi đã xử lý xong chưa ạ? Xin cảm ơn cán bộ bộ phận một cửa huyện. " * 2,
)
REPLY = unicodedata.normalize("NFC", "Hồ sơ 000.00.20.H57-240423-0001: đã xử lý xong.")


def modem_id(profile: str, style: str) -> str:
    return profile if style == "cmti" else f"{profile}-cmt"


def eventually(check: Callable[[], T | None], timeout: float = 40.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def quick_device(settings: ModemSettings) -> Device:
    return Device(
        settings.port, settings.baudrate, settings.pin, command_timeout=3.0, send_timeout=5.0
    )


@dataclass
class Pool:
    bank: Bank
    client: redis.Redis
    queue: Queue

    def health(self, modem: str) -> dict[str, str]:
        return ModemRegistry(self.client).health(modem)

    def limits(self, modem: str) -> set[str]:
        return set(parse_limits(self.health(modem).get("limits")))

    def received(self, modem: str, sender: str) -> list[Inbound]:
        inbox = Inbox(self.client)
        found = []
        # Each job id once: a message not answered within 30 s is handed over again (nobody
        # answers here), which queues its one job id a second time.
        for job_id in dict.fromkeys(self.queue.job_ids):
            job = self.queue.fetch_job(job_id)
            message = inbox.get(job.args[0]) if job is not None else None
            if message is not None and message.modem == modem and message.sender == sender:
                found.append(message)
        return found


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    home = tmp_path_factory.mktemp("profiles")
    server = RedisServer(home / "redis", binary=REDIS_SERVER).start()
    ids = [modem_id(p, s) for p in NAMES for s in STYLES]
    bank = Bank(
        home / "sim",
        ids,
        profiles={modem_id(p, s): p for p in NAMES for s in STYLES},
        direct_only=[modem_id(p, "cmt") for p in NAMES],
        status_report_delay=0.2,
        fresh_ledger=True,
    )
    bank.start()
    client = server.client()
    registry = ModemRegistry(client)
    for modem in ids:
        registry.change(modem, per_minute=10_000, per_hour=100_000, per_day=1_000_000)
    rq_client = redis.Redis(unix_socket_path=str(server.socket))
    # Every emulated SIM is on Viettel: a reply must not leave from another family's modem
    # because its own was slow to take it (no reply wait here).
    settings = Settings(pool=PoolSettings(reply_wait_seconds=3600))
    service = ModemService(
        settings, server.client(), rq_client, sim_dir=bank.dir, make_device=quick_device
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        pool = Pool(bank, client, Queue(INBOUND_QUEUE, connection=rq_client))
        # Every modem up before a test starts: while 63 emulated modems boot, their shared
        # timer thread runs late, and status reports due 0.2 s after a send arrive in one burst
        # (a Q24's 20 report slots overflow whoever reads them).
        eventually(lambda: all(up(pool, m) for m in ids), timeout=90, what="every modem up")
        yield pool
    finally:
        service.stop()
        thread.join(60)
        bank.stop()
        server.stop()


def up(pool: Pool, modem: str) -> dict[str, str] | None:
    health = pool.health(modem)
    return health if health.get("state") == "up" and health.get("model") else None


def sender_for(profile: str, style: str, n: int) -> str:
    return f"+8491{NAMES.index(profile):02d}{STYLES.index(style)}{n:04d}"


@pytest.mark.slow
@pytest.mark.parametrize("profile", NAMES)
def test_each_family_comes_up_identified_with_what_it_cannot_do_published(
    pool: Pool, profile: str
) -> None:
    health = eventually(lambda: up(pool, profile), what=f"{profile} up")
    p = PROFILES[profile]
    assert health["model"] == p.model.strip()
    assert health["registered"] == "1"
    assert health["sim"] == "READY"
    limits = pool.limits(profile)
    assert Limit.NO_PDU not in limits
    stores_reports = 2 in range_values(p.cnmi_ranges[3].split(","))
    assert (Limit.REPORTS_DIRECT in limits) == (not stores_reports)
    assert (Limit.NO_HANGUP in limits) == (p.answer("+CVHU=0") == ("ERROR",))
    assert Limit.DIRECT_DELIVERY not in limits
    cmt = eventually(lambda: up(pool, modem_id(profile, "cmt")), what=f"{profile}-cmt up")
    assert cmt["model"] == health["model"]
    assert Limit.DIRECT_DELIVERY in pool.limits(modem_id(profile, "cmt"))


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("profile", NAMES)
def test_each_family_receives_a_single_and_a_three_part_vietnamese_sms(
    pool: Pool, profile: str, style: str
) -> None:
    modem = modem_id(profile, style)
    eventually(lambda: up(pool, modem), what=f"{modem} up")
    if style == "cmt" and PROFILES[profile].urcs_elsewhere:
        # +CMT is a URC: this family sends it to another port. Published, not failed.
        assert Limit.DIRECT_DELIVERY in pool.limits(modem)
        pytest.skip(f"{profile}: direct delivery goes to the stick's other port")
    single, long = sender_for(profile, style, 1), sender_for(profile, style, 2)
    indexes = pool.bank.inject_sms(modem, single, SINGLE) + pool.bank.inject_sms(
        modem, long, THREE_PARTS
    )
    assert len(indexes) == 4
    if style == "cmt":
        assert indexes == [None] * 4  # handed over as +CMT: nothing stored on the modem
    got_single = eventually(lambda: pool.received(modem, single), what="the single SMS")
    got_long = eventually(lambda: pool.received(modem, long), what="the three-part SMS")
    assert [(m.text, m.parts) for m in got_single] == [(SINGLE, 1)]
    assert [(m.text, m.parts) for m in got_long] == [(THREE_PARTS, 3)]
    storage = pool.bank.device(modem).storage.memories.values()
    eventually(lambda: all(m.used == 0 for m in storage), what="storage emptied")


@pytest.mark.slow
@pytest.mark.parametrize("profile", NAMES)
def test_each_family_sends_a_reply_and_its_status_report_settles_it(
    pool: Pool, profile: str
) -> None:
    eventually(lambda: up(pool, profile), what=f"{profile} up")
    outbox = Outbox(pool.client)
    to = sender_for(profile, "cmti", 3)
    sms = outbox.enqueue(to, REPLY, Priority.REPLY, int(time.time() * 1000), via=profile)
    sent = eventually(
        lambda: [s for s in pool.bank.sent(profile) if s.to == to], what="the reply on the air"
    )
    assert [(s.text, s.encoding) for s in sent] == [(REPLY, "ucs2")]

    def settled() -> SmsState | None:
        got = outbox.get(sms)
        return got.state if got is not None and got.state is SmsState.DELIVERED else None

    eventually(settled, what="delivered by its status report")
    # Reports are read and deleted wherever the modem keeps them ("SR" included).
    storage = pool.bank.device(profile).storage.memories.values()
    eventually(lambda: all(m.used == 0 for m in storage), what="reports deleted")


def test_reports_stored_in_sr_are_read_and_deleted_so_it_never_fills(pool: Pool) -> None:
    """A Q24xx keeps 20 reports in "SR"; a modem service that never read "SR" lost every
    report after the 20th and no SMS ever reached "delivered"."""
    modem = "sierra-q24"
    eventually(lambda: up(pool, modem), what="up")
    outbox = Outbox(pool.client)
    now = int(time.time() * 1000)
    ids = [
        outbox.enqueue(f"+8492{n:07d}", f"Tra loi {n}", Priority.REPLY, now, via=modem)
        for n in range(45)
    ]
    assert pool.bank.device(modem).storage.memories["SR"].capacity == 20

    def all_delivered() -> bool:
        return all((s := outbox.get(i)) and s.state is SmsState.DELIVERED for i in ids)

    eventually(all_delivered, timeout=60, what="45 replies delivered")
    sr = pool.bank.device(modem).storage.memories["SR"]
    eventually(lambda: sr.used == 0, what="SR emptied")


def test_a_modem_that_only_announces_nothing_still_has_its_sms_read(pool: Pool) -> None:
    """The EG25 profile sends its URCs to another port: no +CMTI, no +CDSI on the AT port.
    Storage polling takes the SMS in and settles the reply all the same."""
    modem = "quectel-eg25"
    eventually(lambda: up(pool, modem), what="up")
    sender = "+84919999001"
    pool.bank.inject_sms(modem, sender, SINGLE)
    assert pool.bank.device(modem).storage.memories["ME"].used == 1  # stored, never announced
    eventually(lambda: pool.received(modem, sender), what="the SMS read by polling")


def test_the_matrix_covers_every_family_the_issue_names() -> None:
    families = " ".join(p.family for p in PROFILES.values())
    for name in (
        "Fastrack",
        "Q24",
        "Huawei E",
        "ME909",
        "ZTE MF",
        "SIM800",
        "SIM7600",
        "EC25",
        "EG25",
        "M35",
        "BG96",
        "Telit",
        "u-blox",
    ):
        assert name in families, name
