"""A citizen texts the office and gets the truth back: the whole installation as separate
processes (`tests.e2e.stack`: the emulator, the modem service, an RQ worker, cron, the gateway, a
real Redis); the answer is read from the emulator's ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.events import parse_status_changed
from gateway.core.times import shown_date
from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer
from tests.e2e.stack import Stack, eventually, running_stack
from tests.factories import event_body, registration


def upcoming(now: datetime) -> dict[str, str]:
    """Received now, due in ten days: neither overdue nor due soon while the test runs."""
    return {"received_at": now.isoformat(), "due_at": (now + timedelta(days=10)).isoformat()}


@dataclass
class System:
    """The whole installation (`tests.e2e.stack`) with one dossier registered to 0901234567."""

    stack: Stack
    store: DossierStore
    code: str
    due: str  # the dossier's appointment date as a citizen reads it

    @property
    def redis(self) -> RedisServer:
        return self.stack.gateway.redis

    def text(self, sender: str, message: str, modem: str = "m1") -> None:
        self.stack.sim_command("sms", "--modem", modem, "--from", sender, message)

    def replies_to(
        self, number: str, count: int = 1, timeout: float = 30
    ) -> list[dict[str, object]]:
        mine: list[dict[str, object]] = []

        def arrived() -> bool:
            mine[:] = [r for r in self.stack.sent() if r["to"] == number]
            return len(mine) >= count

        eventually(arrived, f"{count} SMS to {number}", timeout)
        return mine


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_stack(tmp_path_factory.mktemp("citizen")) as stack:
        now = datetime.now(UTC)
        store = DossierStore(stack.gateway.redis.client())
        d = store.register(
            registration(77, phones=["0901234567"], **upcoming(now)), "tuphap", now
        ).dossier
        store.apply(
            d.code,
            parse_status_changed(
                event_body(
                    "e1", 4, desk="Phòng Tư pháp", at=(now + timedelta(seconds=1)).isoformat()
                ),
                "tuphap",
            ),
            "tuphap",
            now,
        )
        system = System(stack, store, d.code, shown_date(d.due_at))
        # Registered, then taken up at once: the citizen is still told the lookup code.
        [received] = system.replies_to("+84901234567", timeout=60)
        assert str(received["text"]).startswith(f"Bo phan mot cua da tiep nhan ho so {d.code}.")
        yield system


def test_hs_and_the_code_is_answered_with_the_status(system: System) -> None:
    system.text("0901234567", f"hs {system.code.lower()}")
    [_received, reply] = system.replies_to("+84901234567", count=2)
    assert reply["modem"] == "m1"  # answered from the number the citizen wrote to
    assert reply["text"] == (
        f"Ho so {system.code}: Dang xu ly. Dang o: Phong Tu phap. Hen tra: {system.due}."
    )


def test_a_vietnamese_ucs2_query_is_understood(system: System) -> None:
    system.text("0912000001", f"Tra cứu hồ sơ {system.code} giúp tôi với ạ", modem="m2")
    [reply] = system.replies_to("+84912000001")
    assert reply["modem"] == "m2"
    assert reply["text"] == (  # a stranger: exactly the reply to an unknown code
        "Khong tra cuu duoc ho so. Vui long kiem tra ma ho so va gui kem ma bi mat in tren "
        "giay bien nhan: HS <ma ho so> <ma bi mat>."
    )


def test_a_multipart_query_is_reassembled_and_answered(system: System) -> None:
    long = (
        "Kính gửi bộ phận một cửa, tôi đã nộp hồ sơ từ tuần trước và muốn hỏi tình trạng. "
        f"Mã hồ sơ của tôi là {system.code}. Xin cảm ơn rất nhiều ạ!"
    )
    assert len(long) > 70  # more than one UCS-2 part
    system.text("0901234567", long)
    replies = system.replies_to("+84901234567", count=3)
    assert "Phong Tu phap" in str(replies[-1]["text"])


def test_a_status_change_reaches_the_registered_phone_as_one_notification(system: System) -> None:
    now = datetime.now(UTC)
    d = system.store.register(
        registration(78, phones=["0933000001"], **upcoming(now)), "tuphap", now
    ).dossier
    for i, status in enumerate((4, 9)):
        event = parse_status_changed(
            event_body(
                f"n{i}",
                status,
                desk="Bộ phận trả kết quả",
                at=(now + timedelta(seconds=1 + i)).isoformat(),
            ),
            "tuphap",
        )
        system.store.apply(d.code, event, "tuphap", now)
    [notice] = system.replies_to("+84933000001", timeout=60)
    text = str(notice["text"])
    assert d.code in text
    assert "ket qua" in text  # result ready: the latest state, in one SMS
    # Another dossier registered afterwards is announced: the notifier ran since, and sent no
    # second SMS about the first.
    now = datetime.now(UTC)
    system.store.register(registration(79, phones=["0933000002"], **upcoming(now)), "tuphap", now)
    system.replies_to("+84933000002", timeout=60)
    assert len(system.replies_to("+84933000001")) == 1
