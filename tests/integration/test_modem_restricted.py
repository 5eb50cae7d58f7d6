"""Modem services restricted to some modems (`hoso modem --modem ID`, one systemd unit per modem):
each drives its own modems through the real python-gsmmodem-new stack on emulated ptys, never
starts, stops or takes over a sibling's, and failover of pinned SMS still works across them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from gateway.core.messages import Priority
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from modem.emulator.bank import Bank
from modem.service import ModemService
from tests.integration.test_modem_service import (
    HIGH_CAPS,
    eventually,
    is_up,
    now_ms,
    quick_device,
    sent_or_delivered,
)


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", ["m1", "m2"], status_report_delay=0.2, fresh_ledger=True) as b:
        yield b


def restricted(
    bank: Bank, redis_server: RedisServer, modem: str, failover_after: float = 3.0
) -> ModemService:
    return ModemService(
        Settings(),
        redis_server.client(),
        redis.Redis(unix_socket_path=str(redis_server.socket)),
        sim_dir=bank.dir,
        make_device=quick_device,
        instance=f"svc-{modem}",
        failover_after=failover_after,
        only=frozenset({modem}),
    )


@pytest.mark.slow
def test_two_services_restricted_to_one_modem_each_drive_only_their_own(
    bank: Bank, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    for modem in bank.ids:
        registry.change(modem, **HIGH_CAPS)
    first, second = restricted(bank, redis_server, "m1"), restricted(bank, redis_server, "m2")
    threads = [threading.Thread(target=s.run, daemon=True) for s in (first, second)]
    for t in threads:
        t.start()
    try:
        eventually(lambda: is_up(redis_client, "m1") and is_up(redis_client, "m2"), what="up")
        assert registry.owner("m1") == "svc-m1"
        assert registry.owner("m2") == "svc-m2"
        assert set(first.owners) == {"m1"}
        assert set(second.owners) == {"m2"}

        outbox = Outbox(redis_client)
        via_m1 = [
            outbox.enqueue(f"+849200{i:05d}", f"a {i}", Priority.REPLY, now_ms(), via="m1")
            for i in range(3)
        ]
        via_m2 = [
            outbox.enqueue(f"+849201{i:05d}", f"b {i}", Priority.REPLY, now_ms(), via="m2")
            for i in range(3)
        ]
        shared = [
            outbox.enqueue(f"+849202{i:05d}", f"c {i}", Priority.NOTIFICATION, now_ms())
            for i in range(6)
        ]
        everything = via_m1 + via_m2 + shared
        eventually(lambda: all(sent_or_delivered(outbox, i) for i in everything), what="sent")
        by_to = {s.to: s.modem for s in bank.sent()}
        assert len(bank.sent()) == 12
        assert {by_to[f"+849200{i:05d}"] for i in range(3)} == {"m1"}
        assert {by_to[f"+849201{i:05d}"] for i in range(3)} == {"m2"}

        # The service of m1 stops (its unit stopped, its modem unplugged): its sibling does not
        # take m1 over, and keeps sending through m2.
        first.stop()
        threads[0].join(30)
        sent_before = len(bank.sent("m1"))
        later = [
            outbox.enqueue(f"+849203{i:05d}", f"d {i}", Priority.NOTIFICATION, now_ms())
            for i in range(3)
        ]
        eventually(lambda: all(sent_or_delivered(outbox, i) for i in later), what="sent by m2")
        assert registry.owner("m1") is None
        assert set(second.owners) == {"m2"}

        # A reply pinned to m1 waits while m1's last health report lives, then fails over to the
        # shared queue (moved by the sibling service) and leaves through m2.
        stranded = outbox.enqueue("+84920400000", "pinned", Priority.REPLY, now_ms(), via="m1")
        eventually(lambda: sent_or_delivered(outbox, stranded), timeout=60, what="failover")
        assert [s.modem for s in bank.sent() if s.to == "+84920400000"] == ["m2"]
        assert len(bank.sent("m1")) == sent_before
        assert registry.owner("m1") is None
        assert set(second.owners) == {"m2"}
    finally:
        for s in (first, second):
            s.stop()
        for t in threads:
            t.join(30)


@pytest.mark.slow
def test_hoso_modem_with_modem_option_drives_that_modem_alone(
    bank: Bank, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": redis_server.url,
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
    }
    log = (tmp_path / "modem.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "modem", "--sim-dir", str(bank.dir), "--modem", "m2"],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        eventually(lambda: is_up(redis_client, "m2"), timeout=30, what="m2 up")
        registry = ModemRegistry(redis_client)
        instance = registry.health("m2")["instance"]
        seen = int(registry.service(instance).get("rounds", 0))
        eventually(  # two more rounds of the service's loop: m1 must still be left alone
            lambda: int(registry.service(instance).get("rounds", 0)) >= seen + 2,
            timeout=30,
            what="two more rounds",
        )
        assert registry.service(instance)["modems"] == "m2"
        assert registry.owner("m1") is None
        assert registry.health("m1") == {}
        assert registry.owner("m2") is not None
    finally:
        process.terminate()
        process.wait(30)
        log.close()
    assert process.returncode == 0
