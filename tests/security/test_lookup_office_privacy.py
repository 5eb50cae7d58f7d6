"""The lookup page names the dossier's office (issue 12, "citizens"), against a real `hoso
gateway`: only once the secret matched. A wrong secret for a dossier of another office than the
default gets the page an unknown code gets, byte for byte (the code typed aside), after the same
Redis commands, and nothing on it says which office holds the code; the right secret shows that
office's heading, hotline and number to text, and its receipt prints them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from gateway.core.codes import short_code
from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the gateway process fixture
from tests.factories import registration_body
from tests.readable import readable
from tests.security.test_lookup_privacy import redis_commands, same_page
from tests.signing import DistinctSeconds, HttpClient, Signer

UNKNOWN_SHORT = short_code(987_654_320)
WRONG_SECRET = "ABCDEFGH"  # the secret alphabet has no I: never a dossier's secret
TAN_DINH = {
    "name": "UBND phường Tân Định",
    "heading": "Bộ phận một cửa phường Tân Định",
    "hotline": "028 3848 7777",
    "numbers": "0913 000 111, 0913 000 222",
    "address": "1 Trần Quang Khải",
}
CANARIES = ("Tân Định", "Tan Dinh", "3848 7777", "0913 000 111", "Trần Quang Khải")


def words(page: requests.Response) -> str:
    return " ".join(readable(page.text).split())


@pytest.fixture(scope="module")
def tan_dinh(gateway: Gateway) -> dict[str, Any]:  # noqa: F811
    """A dossier of office tan-dinh, registered by its own department's key."""
    options = [f"--{k.replace('_', '-')}={v}" for k, v in TAN_DINH.items()]
    made = gateway.hoso("offices", "set", "tan-dinh", *options)
    assert made.returncode == 0, made.stderr
    key = gateway.hoso("keys", "create", "--department", "tuphap-td", "--office", "tan-dinh",
                       "--json")  # fmt: skip
    assert key.returncode == 0, key.stderr
    secret = json.loads(key.stdout)
    department = HttpClient(
        gateway.base, Signer(secret["key_id"], secret["secret"], DistinctSeconds())
    )
    registered = department.post("/api/v1/dossiers", registration_body(741))
    assert registered.status == 201, registered.text
    return {"department": department, **registered.body}


def look_up(gateway: Gateway, code: str, secret: str) -> requests.Response:  # noqa: F811
    answer = requests.post(gateway.base + "/", data={"ma": code, "bi_mat": secret}, timeout=10)
    assert answer.status_code == 200, answer.status_code
    return answer


@pytest.mark.slow
def test_a_wrong_secret_for_another_offices_dossier_tells_nothing_of_that_office(
    gateway: Gateway,  # noqa: F811
    tan_dinh: dict[str, Any],
) -> None:
    client = gateway.redis.client()
    look_up(gateway, UNKNOWN_SHORT, WRONG_SECRET)  # scripts loaded, connections opened
    before = redis_commands(client)
    existing = look_up(gateway, tan_dinh["short_code"], WRONG_SECRET)
    middle = redis_commands(client)
    unknown = look_up(gateway, UNKNOWN_SHORT, WRONG_SECRET)
    after = redis_commands(client)
    assert same_page(existing, tan_dinh["short_code"], unknown, UNKNOWN_SHORT)
    assert middle - before == after - middle, (middle - before, after - middle)
    assert "cmdstat_hgetall" not in middle - before  # the dossier itself is not read
    shown = words(existing)
    assert "Không tìm thấy thông tin hồ sơ." in shown
    assert shown.startswith("Tra cứu hồ sơ Bộ phận một cửa Tra cứu hồ sơ")  # the default office
    for canary in CANARIES:
        assert canary not in existing.text, canary


@pytest.mark.slow
def test_the_right_secret_shows_the_dossiers_office_and_its_receipt_prints_it(
    gateway: Gateway,  # noqa: F811
    tan_dinh: dict[str, Any],
) -> None:
    shown = words(look_up(gateway, tan_dinh["short_code"], tan_dinh["secret"]))
    assert f"{TAN_DINH['heading']} Tra cứu hồ sơ Theo dõi tiến độ" in shown
    assert f"Nơi tiếp nhận {TAN_DINH['name']}, {TAN_DINH['address']}" in shown
    assert shown.endswith(
        "Hoặc nhắn tin HS <mã hồ sơ> <mã bí mật> gửi 0913 000 111 ."
        f" Đường dây hỗ trợ: {TAN_DINH['hotline']}"
    )
    receipt = tan_dinh["department"].get(f"/api/v1/dossiers/{tan_dinh['code']}/receipt?format=html")
    assert receipt.status == 200, receipt.text
    paper = " ".join(readable(receipt.text).split())
    assert paper.startswith(f"Giấy biên nhận {tan_dinh['code']} {TAN_DINH['name']} GIẤY BIÊN NHẬN")
    assert re.search(rf"{tan_dinh['secret']} gửi 0913 000 111 ", paper)
    assert f"Đường dây nóng: {TAN_DINH['hotline']}" in paper
    assert f"Nơi nhận hồ sơ: {TAN_DINH['name']}, {TAN_DINH['address']}" in paper
    assert "Bộ phận một cửa" not in paper  # the default office's name (the gateway's [sms])
