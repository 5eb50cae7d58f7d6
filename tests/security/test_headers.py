"""Security headers on every answer of a real `hoso gateway`, and the citizen page in a frame.

Found: no Content-Security-Policy anywhere; the citizen pages could be framed (clickjacking)
and lacked nosniff. Now every answer - pages, API, errors, /metrics, static files - carries a
strict policy (scripts and styles from the gateway's own files only), frame-ancestors 'none'
with X-Frame-Options DENY, nosniff and a Referrer-Policy; Chromium refuses to show the citizen
page inside another site's frame, and the pages' own scripts still work under the policy."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import chromium_page, needs_chromium
from tests.e2e.conftest import Gateway, free_port, running_gateway
from tests.factories import registration_body
from tests.security.dashboard import Visitor, create_user

ADMIN, PASSWORD = "quantri", "mat-khau-rat-dai-2024"
LOOKUP_TITLE = "Tra cứu hồ sơ"
OWN_PAGE = "<!doctype html><title>own</title><p id=own>Trang của trang khung</p>"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("headers")) as running:
        create_user(running, ADMIN, PASSWORD)
        yield running


def anonymous_answers(gateway: Gateway) -> list[tuple[str, int, dict[str, str]]]:
    visitor = Visitor(gateway.base)
    asked = [
        ("GET", "/", None),
        ("POST", "/", {"ma": "KHONG-CO", "bi_mat": ""}),
        ("GET", "/static/lookup/lookup.css", None),
        ("GET", "/static/lookup/lookup.js", None),
        ("GET", "/admin/login", None),
        ("GET", "/admin/modems", None),
        ("GET", "/admin/api/session", None),
        ("GET", "/admin/static/admin.css", None),
        ("GET", "/admin/khong-co-trang-nay", None),
        ("GET", "/api/v1/dossiers/000.00.20.H57-240423-0001", None),
        ("GET", "/api/v1/openapi.json", None),
        ("POST", "/api/v1/decode", {"image": "not an image"}),
        ("GET", "/metrics", None),
        ("GET", "/healthz", None),
        ("GET", "/khong-co", None),
        ("DELETE", "/", None),
    ]
    answers = []
    for method, path, form in asked:
        page = visitor.request(method, path, form)
        answers.append((f"{method} {path}", page.status, page.headers))
    return answers


def logged_in_answers(gateway: Gateway) -> list[tuple[str, int, dict[str, str]]]:
    admin = Visitor(gateway.base)
    assert admin.log_in(ADMIN, PASSWORD).status == 302
    paths = [
        "/admin/modems",
        "/admin/templates",
        "/admin/templates/reply_help",
        "/admin/charts",
        "/admin/keys",
        "/admin/stations",
        "/admin/offices",
        "/admin/messages",
        "/admin/dossiers?q=PAZCGM6",
        "/admin/overdue",
        "/admin/province",
        "/admin/province?format=csv",
        "/admin/account",
        "/admin/api/modems",
        "/admin/api/charts",
        "/admin/api/offices",
    ]
    answers = []
    for path in paths:
        page = admin.get(path)
        answers.append((f"GET {path}", page.status, page.headers))
    return answers


@pytest.mark.slow
def test_every_answer_carries_the_security_headers(gateway: Gateway) -> None:
    answers = anonymous_answers(gateway) + logged_in_answers(gateway)
    statuses = {status for _, status, _ in answers}
    assert {200, 302, 401, 404}.issubset(statuses)  # pages, redirects, refusals and errors alike
    for what, _, headers in answers:
        policy = headers.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ") if d}
        assert directives.get("frame-ancestors") == ["'none'"], what
        assert directives.get("default-src") == ["'none'"], what
        assert directives.get("script-src") == ["'self'"], what  # no inline script at all
        assert "'unsafe-inline'" not in policy, what
        assert directives.get("base-uri") == ["'none'"], what
        assert headers.get("x-frame-options") == "DENY", what
        assert headers.get("x-content-type-options") == "nosniff", what
        assert headers.get("referrer-policy") == "same-origin", what


def test_no_page_holds_an_inline_script_or_style_attribute(gateway: Gateway) -> None:
    admin = Visitor(gateway.base)
    admin.log_in(ADMIN, PASSWORD)
    for path in (
        "/admin/templates/reply_help",
        "/admin/modems",
        "/admin/charts",
        "/admin/province",
    ):
        text = admin.get(path).text
        assert "<script>" not in text
        assert " style=" not in text
        assert " onclick=" not in text
    lookup = Visitor(gateway.base).get("/").text
    assert "<script>" not in lookup
    assert '<script src="/static/lookup/lookup.js">' in lookup


@pytest.fixture
def framer(gateway: Gateway) -> Iterator[str]:
    """Another site (another origin): a page framing the citizen page, and one of its own."""
    target = gateway.base + "/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/own":
                body = OWN_PAGE
            else:
                src = "/own" if self.path == "/control" else target
                body = f'<!doctype html><title>khung</title><iframe id="f" src="{src}"></iframe>'
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def browser_page() -> Iterator[Page]:
    """Chromium as every browser test drives it (tests/e2e/browser.py): actions and `expect`
    wait up to 15 s, as a loaded machine needs (a preview's fetch took over 5 s once)."""
    with chromium_page() as page:
        yield page


def frame_text(page: Page) -> str:
    frame = page.frame_locator("#f").locator("body")
    try:
        return frame.inner_text(timeout=5_000)
    except Exception:  # a blocked frame holds Chromium's error document or nothing at all
        return ""


@pytest.mark.slow
@needs_chromium
def test_chromium_will_not_show_the_citizen_page_in_another_sites_frame(
    gateway: Gateway, framer: str, browser_page: Page
) -> None:
    page = browser_page
    # The control: the framing site's own page shows in its frame, so a frame's text is seen.
    page.goto(framer + "/control", wait_until="load")
    expect(page.frame_locator("#f").locator("#own")).to_have_text("Trang của trang khung")
    # The citizen page in the same frame: Chromium refuses it (frame-ancestors 'none').
    page.goto(framer + "/frame", wait_until="load")
    assert LOOKUP_TITLE not in frame_text(page)
    # Opened directly, it shows.
    page.goto(gateway.base + "/")
    expect(page.locator("header h1")).to_have_text(LOOKUP_TITLE)


@pytest.mark.slow
@needs_chromium
def test_the_pages_scripts_run_under_the_policy(gateway: Gateway, browser_page: Page) -> None:
    page = browser_page
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(gateway.base + "/")
    expect(page.locator("#tra-cuu")).to_be_visible()
    page.goto(gateway.base + "/admin/login?next=/admin/templates/reply_help")
    page.get_by_label("Tên đăng nhập").fill(ADMIN)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("h1")).to_have_text("Mẫu tin nhắn: reply_help")
    # The editor's script (a static file now) previews as one types, without the button.
    page.locator("#body").fill("Kiem tra xem truoc {office}")
    expect(page.locator("#preview-text")).to_contain_text("Kiem tra xem truoc")
    assert violations == []


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize(
    "path", ["receipt?format=html&width=58", "receipt?format=html", "handoffs?format=html"]
)
def test_printable_pages_keep_their_own_stylesheet_and_nothing_else(
    gateway: Gateway, browser_page: Page, path: str
) -> None:
    department = gateway.department("tuphap-in")
    body = registration_body(91)
    assert department.post("/api/v1/dossiers", body).status in (200, 201)
    printed = department.get(f"/api/v1/dossiers/{body['code']}/{path}")
    assert printed.status == 200
    policy = printed.headers["Content-Security-Policy"]
    (css,) = re.findall(r"<style>(.*?)</style>", printed.text, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in policy  # this stylesheet, by its hash
    assert "'unsafe-inline'" not in policy
    assert "script-src 'self';" in policy
    # Chromium, given the page with its headers at the gateway's address, applies the style.
    page = browser_page
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    url = gateway.base + "/in-thu"
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": policy},
            body=printed.text,
        ),
    )
    page.goto(url)
    collapse = page.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse")
    assert collapse == "collapse"
    assert violations == []
