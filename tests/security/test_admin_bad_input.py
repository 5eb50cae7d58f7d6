"""Bad input to the dashboard of a real `hoso gateway`: a 4xx Vietnamese page, never a 500 or
an exception's text.

Found: `/admin/dossiers/<code>:history` put the path unchecked into a Redis key name (500,
WRONGTYPE: it named the dossier's history list), and a `next=` holding CR/LF after login made a
500 (a header with a line break). Now a typed code is read only through the lookup index, and
`next` is kept only when it is a plain dashboard path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.security.dashboard import Page, Visitor, create_user

ADMIN, PASSWORD = "quantri", "mat-khau-rat-dai-2024"
REPR = re.compile(r"object at 0x|Traceback|<class '|Error\(|\bNone\b|\\x[0-9a-f]{2}")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("bad-input")) as running:
        create_user(running, ADMIN, PASSWORD)
        yield running


@pytest.fixture(scope="module")
def code(gateway: Gateway) -> str:
    body = registration_body(71)
    answer = gateway.department("tuphap").post("/api/v1/dossiers", body)
    assert answer.status == 201, answer.text
    return str(body["code"])


@pytest.fixture
def admin(gateway: Gateway) -> Visitor:
    visitor = Visitor(gateway.base)
    assert visitor.log_in(ADMIN, PASSWORD).status == 302
    return visitor


def assert_plain_refusal(page: Page, status: int) -> None:
    assert page.status == status
    assert not REPR.search(page.text), page.text[:500]


@pytest.mark.slow
def test_a_dossier_path_with_a_key_suffix_is_404_not_500(
    gateway: Gateway, admin: Visitor, code: str
) -> None:
    assert admin.get(f"/admin/dossiers/{code}").status == 200  # the dossier is there
    for suffix in (":history", ":notified", ":x", "/history", ":phones:" + "a" * 3000):
        page = admin.get(f"/admin/dossiers/{code}{suffix}")
        assert_plain_refusal(page, 404)
        assert "Không có hồ sơ nào với mã này." in page.text
        api = admin.get(f"/admin/api/dossiers/{code}{suffix}")
        assert api.status == 404
        assert api.headers["content-type"] == "application/problem+json"
    for sloppy in ("%00", "*", ":" * 200):  # codes are found however they are typed
        page = admin.get(f"/admin/dossiers/{code}{sloppy}")
        assert_plain_refusal(page, 200)
        assert f"<h1>Hồ sơ {code}</h1>" in page.text
    assert_plain_refusal(admin.get(f"/admin/dossiers/{code}%0d%0a"), 404)  # no route takes CR/LF


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    [
        "/admin/modems\r\nSet-Cookie: x=1",
        "/admin/modems\nLocation: https://evil.example/",
        "/admin/modems%0d%0aX: y",
        "/admin/\\\\evil.example",
        "//evil.example/admin/",
        "/admin//evil.example",
        "/admin/api/modems",
        "/admin/" + "a" * 3000,
        "/admin/charts?tu=01%2F05",
    ],
)
def test_next_after_login_is_a_dashboard_path_or_the_pool(gateway: Gateway, target: str) -> None:
    visitor = Visitor(gateway.base)
    visitor.open_login()
    answer = visitor.post("/admin/login", {"username": ADMIN, "password": PASSWORD, "next": target})
    assert answer.status == 302
    location = answer.location
    assert "\r" not in location
    assert "\n" not in location
    plain = target == "/admin/charts?tu=01%2F05"  # a plain dashboard path: kept
    assert location == (target if plain else "/admin/modems")
    shown = Visitor(gateway.base).get("/admin/login?" + urlencode({"next": target}))
    assert_plain_refusal(shown, 200)
    assert ("\n" in target) or ("\r" in target) or 'name="next" value=""' in shown.text or plain


def test_error_pages_of_the_dashboard_are_vietnamese_and_plain(admin: Visitor) -> None:
    for path, status in (
        ("/admin/khong-co", 404),
        ("/admin/templates/khong-co", 404),
        ("/admin/modems/m9/disable", 404),
    ):
        page = admin.get(path) if "disable" not in path else admin.post(path)
        assert_plain_refusal(page, status)
        assert "Không tìm thấy" in page.text
    bad_caps = admin.post("/admin/modems/m9/caps", {"per_day": "nhieu"})
    assert bad_caps.status in (302, 404)
    assert_plain_refusal(bad_caps, bad_caps.status)
