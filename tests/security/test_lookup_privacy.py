"""Issue 11, finding 3 (the lookup page) and issue 10, item 6, against a real `hoso gateway`.

The page answered an existing code a Redis round trip later than an unknown one (0.1–0.25 ms),
which lets a stranger enumerate codes by timing; and it said "not found" when only the secret was
missing. Now what it says depends on what was typed, never on what the store holds, and until
the secret matched it does the same work whatever the code. Timings are measured by
`bench/lookup_timing.py`, never asserted: here the same work is checked as the same Redis
commands, counted by the gateway's own redis-server.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import redis
import requests
from playwright.sync_api import expect

from gateway.core.codes import short_code
from tests.e2e.browser import needs_chromium
from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the gateway process fixture
from tests.e2e.test_lookup_browser import NAME, Phone, phone, registered, shoot  # noqa: F401
from tests.factories import registration_body

NOTE = "Thiếu bản đồ địa chính"  # what `registered` puts on the dossier
DESK = "Bộ phận một cửa"
UNKNOWN_CODE = "000.00.20.H57-240423-9998"
UNKNOWN_SHORT = short_code(987_654_321)
WRONG_SECRET = "ABCDEFGH"  # the secret alphabet has no I: never a dossier's secret


def look_up(gateway: Gateway, code: str, secret: str | None = None) -> requests.Response:  # noqa: F811
    form = {"ma": code} | ({"bi_mat": secret} if secret is not None else {})
    answer = requests.post(gateway.base + "/", data=form, timeout=10)
    assert answer.status_code == 200, answer.status_code
    return answer


def same_page(a: requests.Response, code_a: str, b: requests.Response, code_b: str) -> bool:
    """Whether two pages are byte for byte the same, the code each echoes back aside."""
    return a.content.replace(code_a.encode(), b"X") == b.content.replace(code_b.encode(), b"X")


def words(page: requests.Response) -> str:
    text = re.sub(r"<script.*?</script>", " ", page.text, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def assert_tells_nothing(page: requests.Response, made: dict[str, Any], typed: str) -> None:
    """Nothing about the dossier is on the page but what the visitor typed (echoed back)."""
    other_code = made["short_code"] if typed == made["code"] else made["code"]
    for canary in (
        other_code,
        made["secret"],
        NAME,
        NOTE,
        "Yêu cầu bổ sung",
        "Phòng Tài nguyên",
        "0901234567",
        "901234567",
    ):
        assert canary not in page.text, canary


# Commands a connection sends when it opens or checks itself (a gunicorn worker's first request,
# a pooled connection's health check, this test's own client), not when it looks a dossier up.
# Valkey and Redis 7 count subcommands apart ("cmdstat_client|setinfo"): by their command.
CONNECTION_SETUP = {
    "cmdstat_info",
    "cmdstat_hello",
    "cmdstat_client",
    "cmdstat_select",
    "cmdstat_ping",
}


def redis_commands(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter(
        {k: int(v["calls"]) for k, v in stats.items() if k.split("|")[0] not in CONNECTION_SETUP}
    )


@pytest.mark.slow
def test_without_a_secret_an_existing_and_an_unknown_code_get_the_same_page(
    gateway: Gateway,  # noqa: F811
) -> None:
    made = registered(gateway, 721)
    existing = look_up(gateway, made["code"])
    unknown = look_up(gateway, UNKNOWN_CODE)
    assert same_page(existing, made["code"], unknown, UNKNOWN_CODE)
    assert "Cần nhập mã bí mật để xem hồ sơ." in words(existing)
    assert "Không tìm thấy" not in words(existing)
    short = look_up(gateway, made["short_code"], "")
    assert same_page(short, made["short_code"], look_up(gateway, UNKNOWN_SHORT, ""), UNKNOWN_SHORT)
    assert_tells_nothing(existing, made, made["code"])
    assert_tells_nothing(short, made, made["short_code"])


def test_a_wrong_secret_gets_the_page_of_an_unknown_code_after_the_same_redis_work(
    gateway: Gateway,  # noqa: F811
) -> None:
    made = registered(gateway, 722)
    client = gateway.redis.client()
    look_up(gateway, UNKNOWN_CODE, WRONG_SECRET)  # the script is loaded into Redis once
    before = redis_commands(client)
    existing = look_up(gateway, made["short_code"], WRONG_SECRET)
    middle = redis_commands(client)
    unknown = look_up(gateway, UNKNOWN_SHORT, WRONG_SECRET)
    after = redis_commands(client)
    assert same_page(existing, made["short_code"], unknown, UNKNOWN_SHORT)
    assert "Không tìm thấy thông tin hồ sơ." in words(existing)
    assert_tells_nothing(existing, made, made["short_code"])
    work_existing, work_unknown = middle - before, after - middle
    assert work_existing == work_unknown, (work_existing, work_unknown)
    assert work_existing["cmdstat_evalsha"] == 1  # the secret is read in one round trip
    assert "cmdstat_hgetall" not in work_existing  # the dossier itself is not read
    # The right secret opens it: the equal work above is that of a real lookup.
    opened = look_up(gateway, made["short_code"], made["secret"])
    assert "Trạng thái: Yêu cầu bổ sung giấy tờ" in words(opened)


def test_a_mistyped_code_is_wrong_for_everybody(gateway: Gateway) -> None:  # noqa: F811
    made = registered(gateway, 723)
    short = made["short_code"]
    typo = short[:-1] + ("0" if short[-1] != "0" else "1")  # the check character is wrong
    page = look_up(gateway, typo, made["secret"])
    assert "Mã hồ sơ không đúng." in words(page)
    assert "Vui lòng kiểm tra lại trên giấy biên nhận" in words(page)
    assert_tells_nothing(page, made, typo)
    assert same_page(page, typo, look_up(gateway, "PAZCGM7", made["secret"]), "PAZCGM7")


@pytest.fixture(scope="module")
def two_dossiers(gateway: Gateway) -> dict[str, Any]:  # noqa: F811
    department = gateway.department("dept-browser-privacy")
    made = department.post("/api/v1/dossiers", registration_body(724, applicant_name=NAME))
    assert made.status == 201, made.text
    return dict(made.body)


@pytest.mark.slow
@needs_chromium
def test_a_visitor_is_asked_for_the_secret_whether_or_not_the_code_exists(
    gateway: Gateway,  # noqa: F811
    phone: Phone,  # noqa: F811
    two_dossiers: dict[str, Any],
) -> None:
    shown: list[str] = []
    for code in (two_dossiers["short_code"], UNKNOWN_SHORT):
        with phone() as page:
            page.goto(gateway.base + "/")
            page.get_by_label("Mã hồ sơ").fill(code)
            page.get_by_role("button", name="Tra cứu").click()
            alert = page.get_by_role("alert")
            expect(alert).to_contain_text("Cần nhập mã bí mật để xem hồ sơ.")
            expect(page.get_by_label("Mã bí mật")).to_be_focused()
            expect(page.get_by_label("Mã hồ sơ")).to_have_value(code)
            shown.append(alert.inner_text())
            if code == UNKNOWN_SHORT:
                shoot(page, "6-secret-needed")
    assert shown[0] == shown[1]
    with phone() as page:
        page.goto(gateway.base + "/")
        page.get_by_label("Mã hồ sơ").fill("PAZC-GM7")
        page.get_by_label("Mã bí mật").fill(two_dossiers["secret"])
        page.get_by_role("button", name="Tra cứu").click()
        expect(page.get_by_role("alert")).to_contain_text("Mã hồ sơ không đúng.")
        shoot(page, "7-wrong-code")
