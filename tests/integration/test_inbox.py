"""Inbound SMS against a real Redis: persisted once, multipart reassembled, duplicates dropped."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import redis

from gateway.store.inbox import GAP, InboundPart, Inbox

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SMSC = datetime(2026, 11, 26, 14, 59, 58, tzinfo=UTC)


@pytest.fixture
def inbox(redis_client: redis.Redis) -> Inbox:
    return Inbox(redis_client)


def part(
    text: str, digest: str, concat: tuple[int, int, int] | None = None, sender: str = "+84901234567"
) -> InboundPart:
    return InboundPart("m1", sender, text, SMSC, digest, concat)


def test_a_single_sms_becomes_one_pending_message(inbox: Inbox) -> None:
    mid = inbox.take(part("HS 000.00.20.H57-240423-0001", "d1"), NOW)
    assert mid is not None
    got = inbox.get(mid)
    assert got is not None
    assert (got.sender, got.text, got.modem, got.parts) == (
        "+84901234567",
        "HS 000.00.20.H57-240423-0001",
        "m1",
        1,
    )
    assert inbox.pending() == [mid]
    inbox.handed_over(mid)
    assert inbox.pending() == []


def test_the_same_stored_part_read_twice_is_taken_once(inbox: Inbox) -> None:
    assert inbox.take(part("TRA", "d1"), NOW) is not None
    assert inbox.take(part("TRA", "d1"), NOW) is None
    assert len(inbox.pending()) == 1


def test_the_same_message_stored_twice_is_taken_once(inbox: Inbox) -> None:
    assert inbox.take(part("TRA", "pdu-a"), NOW) is not None
    assert inbox.take(part("TRA", "pdu-b"), NOW) is None  # same sender, SMSC time and text


def test_parts_in_any_order_make_one_message(inbox: Inbox) -> None:
    chunks = ["Hồ sơ ", "của tôi ", "đã xong chưa? 😀"]
    order = [2, 0, 1]
    results = [inbox.take(part(chunks[i], f"p{i}", (42, 3, i + 1)), NOW) for i in order]
    assert results[:2] == [None, None]
    assert results[2] is not None
    got = inbox.get(results[2])
    assert got is not None
    assert (got.text, got.parts) == ("".join(chunks), 3)


def test_two_multipart_messages_with_the_same_reference_from_different_senders_stay_apart(
    inbox: Inbox,
) -> None:
    a = [
        inbox.take(part(t, f"a{i}", (7, 2, i + 1), sender="+84901000001"), NOW)
        for i, t in enumerate(["A1", "A2"])
    ]
    b = [
        inbox.take(part(t, f"b{i}", (7, 2, i + 1), sender="+84901000002"), NOW)
        for i, t in enumerate(["B1", "B2"])
    ]
    assert inbox.get(a[1]).text == "A1A2"  # type: ignore[arg-type,union-attr]
    assert inbox.get(b[1]).text == "B1B2"  # type: ignore[arg-type,union-attr]


def test_a_multipart_message_missing_a_part_is_filed_after_the_timeout(inbox: Inbox) -> None:
    inbox.take(part("đầu ", "x1", (9, 3, 1)), NOW)
    inbox.take(part(" cuối", "x3", (9, 3, 3)), NOW)
    cutoff = int((NOW + timedelta(minutes=30)).timestamp() * 1000)
    made = inbox.expire_partials(cutoff, NOW + timedelta(minutes=30))
    assert len(made) == 1
    got = inbox.get(made[0])
    assert got is not None
    assert got.text == f"đầu {GAP} cuối"
    assert inbox.expire_partials(cutoff, NOW) == []


def test_many_messages_in_random_order_are_each_taken_exactly_once(inbox: Inbox) -> None:
    rnd = random.Random(3)
    parts = []
    expected = set()
    for m in range(50):
        total = rnd.randint(1, 4)
        expected.add("".join(f"m{m}p{seq};" for seq in range(1, total + 1)))
        for seq in range(1, total + 1):
            concat = (m % 256, total, seq) if total > 1 else None
            parts.append(part(f"m{m}p{seq};", f"{m}-{seq}", concat, sender=f"+849010{m:05d}"))
    rnd.shuffle(parts)
    doubled = parts + rnd.sample(parts, 30)  # the SIM listed some twice
    made = [mid for p in doubled if (mid := inbox.take(p, NOW))]
    assert len(made) == 50
    texts = {inbox.get(mid).text for mid in made}  # type: ignore[union-attr]
    assert texts == expected
