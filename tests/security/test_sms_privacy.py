"""Issue 11, finding 3 (SMS): a stranger learns nothing a wrong guess would not tell.

A phone that is neither registered with a dossier nor gives its secret used to get "Ho so
000.00.20.H57-...: Duoc tiep nhan" (`stranger_reply = "status"`, the default), and short codes
were a public permutation of a counter (every installation's first dossier was PAZCGM6), so
dossiers could be enumerated by SMS. Now:

- property, over the real store and the real answer job: for any dossier (any status, desk,
  note, applicant, due date) and any way of writing its code, the reply to a stranger, to a
  wrong secret and to a code that does not exist are byte for byte the same, and none holds a
  canary field (code, short code, status label, desk, due date, note, applicant, phone); a
  registered phone and a secret holder get the answer (so the property cannot hold vacuously); a
  mistyped code gets one reply whoever sends it;
- end to end, through the emulator, the modem service and a real worker process;
- short codes are random: two fresh installations do not share their first short codes, which
  are not the old PAZCGM6 / CM4AE9K; a short code printed before (made from the counter) stays
  findable, and a drawn code already taken is drawn again.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.codes import fold, is_short_code, short_code
from gateway.core.events import parse_status_changed
from gateway.core.phones import normalise_phone
from gateway.core.sms_text import strip_accents
from gateway.core.status import ALLOWED, Status
from gateway.store.dossiers import DossierStore, random_short_code
from gateway.store.replies import OptOuts
from hoso.redis_server import RedisServer
from tests.e2e.test_citizen_sms import System, system  # noqa: F401 - the processes' fixture
from tests.factories import T0, event_body, registration
from tests.integration.test_replies import NOW, ask, make_context
from worker.context import Context

OWNER = "0901234567"
SECOND = "0912345678"
STRANGER = "+84987654321"
WRONG_SECRET = "ABCDEFGH"  # the secret alphabet has no I: never a dossier's secret
_numbers = itertools.count(100_000)

SHAPES = [
    "HS {code}",
    "{code}",
    "TRA {code}",
    "hs {sloppy}",
    "Tra cứu hồ sơ {code} giúp tôi với ạ",
    "HS {short}",
    "{short}",
    "tra cuu {short_shown}",
]


def fresh_code() -> str:
    return f"000.00.20.H57-240423-{next(_numbers):06d}"


def path_to(target: Status) -> tuple[Status, list[Status]]:
    """The status to register a dossier in and the statuses it then goes through to reach
    `target` (refused is reachable only from a dossier registered as "Mới đăng ký")."""
    for start in (Status.RECEIVED, Status.REGISTERED):
        seen = {start: [start]}
        todo = deque([start])
        while todo:
            status = todo.popleft()
            for nxt in sorted(ALLOWED[status]):
                if nxt not in seen:
                    seen[nxt] = [*seen[status], nxt]
                    todo.append(nxt)
        if target in seen:
            return start, seen[target][1:]
    raise AssertionError(f"no way to {target!r}")  # pragma: no cover


def written(shape: str, code: str, short: str, secret: str = "") -> str:
    """The message in `shape` naming the dossier by `code` or `short`, the secret right after."""
    after = f" {secret}" if secret else ""
    return shape.format(
        code=code + after,
        sloppy=code.lower().replace(".", " ").replace("0", "o") + after,
        short=short + after,
        short_shown=f"{short[:4]}-{short[4:]}".lower() + after,
    )


def typo_of(short: str) -> str:
    return short[:-1] + ("0" if short[-1] != "0" else "1")  # a wrong check character


def assert_tells_nothing(reply: str | None, canaries: list[str]) -> None:
    assert reply is not None  # a stranger is answered: silence would tell something too
    for canary in canaries:
        for form in {canary, strip_accents(canary), fold(canary)}:
            if len(form) >= 4:
                assert form not in reply, (form, reply)


@pytest.fixture
def quiet_limits(redis_client: redis.Redis) -> Context:
    return make_context(redis_client, per_sender_per_hour=10**6, daily_reply_budget=10**9)


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    status=st.sampled_from(list(Status)),
    shape=st.sampled_from(SHAPES),
    desk=st.sampled_from(["Phòng Tư pháp", "Quầy số 3", "Bộ phận trả kết quả", None]),
    due_days=st.integers(min_value=0, max_value=400),
    second_phone=st.booleans(),
)
def test_a_stranger_gets_exactly_the_unknown_code_reply_and_no_canary(
    quiet_limits: Context,
    status: Status,
    shape: str,
    desk: str | None,
    due_days: int,
    second_phone: bool,
) -> None:
    ctx = quiet_limits
    n = next(_numbers)
    name, note = f"Canary Trần Thị {n}", f"CanaryNote{n} thiếu bản sao CCCD"
    phones = [OWNER, SECOND] if second_phone else [OWNER]
    due = T0 + timedelta(days=due_days, hours=8)
    code, short = fresh_code(), random_short_code()
    asked = written(shape, code, short)
    guessed = written(shape, code, short, WRONG_SECRET)

    # A code that does not exist (yet): what any guess gets.
    nobody = ask(ctx, STRANGER, asked)
    nobody_guessing = ask(ctx, STRANGER, guessed)

    initial, steps = path_to(status)
    store = DossierStore(ctx.redis, draw_short_code=lambda: short)
    d = store.register(
        registration(
            code=code,
            phones=phones,
            applicant_name=name,
            due_at=due.isoformat(),
            status=int(initial),
        ),
        "tuphap",
        NOW,
    ).dossier
    for k, step in enumerate(steps):
        event = event_body(f"e{k}", int(step), minutes=10 * (k + 1), note=note)
        if desk is not None:
            event["desk"] = desk
        store.apply(d.code, parse_status_changed(event, "tuphap"), "tuphap", NOW)
    assert store.get(d.code).status is status

    owner = ask(ctx, normalise_phone(OWNER), asked)
    holder = ask(ctx, STRANGER, written(shape, code, short, d.secret))
    stranger = ask(ctx, STRANGER, asked)
    wrong = ask(ctx, STRANGER, guessed)
    other_unknown = written(shape, fresh_code(), random_short_code(), d.secret)
    unknown_with_its_secret = ask(ctx, STRANGER, other_unknown)

    # the answer reaches those entitled to it: the property below is not vacuous
    assert owner is not None
    assert d.code in owner
    assert holder == owner
    assert stranger == wrong == nobody == nobody_guessing == unknown_with_its_secret
    canaries = [
        d.code,
        d.short_code,
        d.secret,
        status.label,
        status.label_ascii,
        note,
        f"CanaryNote{n}",
        name,
        due.strftime("%d/%m/%Y"),
        OWNER[-7:],
        SECOND[-7:],
        *([desk] if desk else []),
    ]
    assert_tells_nothing(stranger, canaries)

    typo = typo_of(d.short_code)
    typo_replies = {ask(ctx, s, f"HS {typo}") for s in (normalise_phone(OWNER), STRANGER)}
    assert len(typo_replies) == 1
    assert_tells_nothing(typo_replies.pop(), canaries)


def test_a_typo_reply_says_the_code_is_wrong_and_nothing_else(quiet_limits: Context) -> None:
    d = quiet_limits.dossiers.register(registration(code=fresh_code()), "tuphap", NOW).dossier
    for text in ("PAZCGM7", f"HS {typo_of(d.short_code)}", f"HS {d.code[:-1]}A"):
        assert ask(quiet_limits, STRANGER, text) == (
            "Ma ho so khong dung, kiem tra lai tren giay bien nhan. Soan HD de xem huong dan."
        ), text


# -- short codes ---------------------------------------------------------------------------------


def first_short_code(server: RedisServer) -> str:
    with server:
        client = server.client()
        return DossierStore(client).register(registration(1), "tuphap", NOW).dossier.short_code


def test_the_first_short_codes_of_two_fresh_installations_differ_and_are_not_the_old_ones(
    fresh_redis: Callable[[], RedisServer],
) -> None:
    first = first_short_code(fresh_redis())
    second = first_short_code(fresh_redis())
    assert first != second
    assert {first, second}.isdisjoint({"PAZCGM6", "CM4AE9K", short_code(1), short_code(2)})
    assert is_short_code(first)
    assert is_short_code(second)


def test_a_short_code_drawn_before_is_drawn_again_and_old_short_codes_stay_findable(
    redis_client: redis.Redis,
) -> None:
    draws: Iterator[str] = iter([short_code(1), short_code(1), short_code(1), short_code(42)])
    store = DossierStore(redis_client, draw_short_code=lambda: next(draws))
    legacy = store.register(registration(code=fresh_code()), "tuphap", NOW).dossier
    assert legacy.short_code == "PAZCGM6"  # as an installation before 0.3.0 numbered it
    fresh = store.register(registration(code=fresh_code()), "tuphap", NOW).dossier
    assert fresh.short_code == short_code(42)  # PAZCGM6 was taken twice: drawn a third time
    assert store.find("pazc-gm6") == legacy.code  # the printed receipt still works
    assert store.find(fresh.short_code) == fresh.code
    ctx = make_context(redis_client)
    assert legacy.code in (ask(ctx, normalise_phone(OWNER), "HS PAZC-GM6") or "")


# -- end to end: emulator, modem service, worker process -------------------------------------------


@pytest.mark.slow
def test_a_stranger_gets_the_unknown_code_reply_over_the_air(system: System) -> None:  # noqa: F811
    now = datetime.now(UTC)
    code = fresh_code()
    # The registered phone opted out of notifications: what it receives is the reply alone.
    OptOuts(system.redis.client()).opt_out("+84933111222")
    d = system.store.register(
        registration(
            code=code,
            phones=["0933111222"],
            applicant_name="Canary Lê Văn Tám",
            received_at=now.isoformat(),
            due_at=(now + timedelta(days=30)).isoformat(),
        ),
        "tuphap",
        now,
    ).dossier
    event = {
        "event_id": "p1",
        "status": 5,
        "at": (now + timedelta(seconds=1)).isoformat(),
        "desk": "Phòng Canary",
        "note": "CanaryNote e2e",
    }
    system.store.apply(d.code, parse_status_changed(event, "tuphap"), "tuphap", now)
    asks = {
        "0944000001": f"HS {d.code}",  # a stranger
        "0944000002": f"HS {d.short_code} {WRONG_SECRET}",  # a wrong secret
        "0944000003": f"HS {fresh_code()}",  # a code that does not exist
        "0944000004": f"HS {d.short_code} {d.secret}",  # the secret holder
        "0944000005": f"HS {typo_of(d.short_code)}",  # a typo
        "0933111222": f"hs {d.short_code.lower()}",  # the registered phone
    }
    for sender, text in asks.items():
        system.text(sender, text)
    replies = {
        sender: str(system.replies_to(normalise_phone(sender), timeout=60)[0]["text"])
        for sender in asks
    }
    full = replies["0933111222"]
    assert d.code in full
    assert "Phong Canary" in full
    assert replies["0944000004"] == full
    stranger = replies["0944000001"]
    assert stranger == replies["0944000002"] == replies["0944000003"]
    canaries = [d.code, d.short_code, d.secret, "Canary", "Yeu cau bo sung", "0933111222"[-7:]]
    for sender in ("0944000001", "0944000002", "0944000003", "0944000005"):
        assert_tells_nothing(replies[sender], canaries)
    assert replies["0944000005"].startswith("Ma ho so khong dung")


__all__ = ["Path"]
