"""Password guessing at the dashboard's login, against a real `hoso gateway` (2 workers).

Found: the lock-out was check-then-act (concurrent guesses slipped past it), and anyone could
lock any administrator out for 15 minutes with 5 guesses. Now one Lua script counts and decides,
and guesses of one username from one address wait longer and longer instead of locking the
account: its owner logs in from elsewhere at once, and from the guesser's address after the
wait."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Gateway, running_gateway
from tests.security.dashboard import Visitor, create_user

OWNER, PASSWORD = "quantri", "mat-khau-cua-chu-2024"
GUESSES = 40
FREE_TRIES = 5  # the default admin.lockout_attempts


@pytest.fixture
def patient_gateway(tmp_path: Path) -> Iterator[Gateway]:
    """Waits far longer than the test (an hour), so no guess is let through by the clock."""
    with running_gateway(
        tmp_path, HOSO_ADMIN_LOGIN_WAIT_SECONDS="3600", HOSO_ADMIN_ADDRESS_ATTEMPTS="1000"
    ) as gateway:
        yield gateway


@pytest.mark.slow
def test_concurrent_guesses_cannot_exceed_the_limit(patient_gateway: Gateway) -> None:
    gateway = patient_gateway
    create_user(gateway, OWNER, PASSWORD)
    guessers = [Visitor(gateway.base) for _ in range(GUESSES)]
    for guesser in guessers:
        guesser.open_login()  # each its own session and CSRF token, ready to post
    start = threading.Barrier(GUESSES)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(visitor: Visitor, n: int) -> None:
        start.wait()
        page = visitor.post("/admin/login", {"username": OWNER, "password": f"doan-sai-{n}"})
        with lock:
            statuses.append(page.status)

    threads = [threading.Thread(target=guess, args=(g, n)) for n, g in enumerate(guessers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counted = Counter(statuses)
    assert sum(counted.values()) == GUESSES
    assert counted == {401: FREE_TRIES, 429: GUESSES - FREE_TRIES}  # checked / told to wait

    # The account is not locked: its owner, from another address, logs in at once...
    owner = Visitor(gateway.base, address="127.0.0.2")
    assert owner.log_in(OWNER, PASSWORD).location == "/admin/modems"
    assert owner.get("/admin/modems").status == 200
    # ...while the guessers' address waits, even with the right password.
    held = Visitor(gateway.base).log_in(OWNER, PASSWORD)
    assert held.status == 429
    assert 3000 < int(held.headers["retry-after"]) <= 3600
    assert "Hãy thử lại sau" in held.text


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """The default settings: a 2-second first wait, doubled at each further failure."""
    with running_gateway(tmp_path) as running:
        yield running


@pytest.mark.slow
def test_the_owner_logs_in_after_an_attackers_five_guesses(gateway: Gateway) -> None:
    create_user(gateway, OWNER, PASSWORD)
    attacker = Visitor(gateway.base, address="127.0.0.3")
    for n in range(FREE_TRIES):
        assert attacker.log_in(OWNER, f"doan-sai-{n}").status == 401
    sixth = attacker.log_in(OWNER, "doan-sai-6")
    assert sixth.status == 429
    assert int(sixth.headers["retry-after"]) >= 1

    # The owner at their own desk: not slowed at all.
    owner = Visitor(gateway.base, address="127.0.0.4")
    assert owner.log_in(OWNER, PASSWORD).location == "/admin/modems"

    # The owner at the attacker's address (a shared office connection): logs in once the short
    # wait is over. A refused try is not counted, so asking again does not lengthen the wait.
    shared = Visitor(gateway.base, address="127.0.0.3")
    deadline = time.monotonic() + 60
    answer = shared.log_in(OWNER, PASSWORD)
    while answer.status == 429 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = shared.log_in(OWNER, PASSWORD)
    assert answer.status == 302
    assert answer.location == "/admin/modems"
