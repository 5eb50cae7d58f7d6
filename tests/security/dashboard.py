"""A person at the dashboard of a real `hoso gateway` process, over HTTP from a chosen loopback
address (127.0.0.1, 127.0.0.2... all reach a gateway bound to 127.0.0.1), keeping the session
cookie as a browser does (a browser keeps Secure cookies on http://127.0.0.1; Python's cookie
jar does not, so the cookie is carried here by hand)."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from tests.e2e.conftest import Gateway

COOKIE = "hoso_admin"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SET_COOKIE = re.compile(rf"{COOKIE}=([^;]*)")


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Visitor:
    base: str
    address: str = "127.0.0.1"
    cookie: str | None = None
    csrf: str | None = field(default=None)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> Page:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(
            url.hostname or "127.0.0.1", url.port, timeout=60, source_address=(self.address, 0)
        )
        sent = dict(headers)
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            sent["Cookie"] = f"{COOKIE}={self.cookie}"
        try:
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
            got = {k.lower(): v for k, v in answer.getheaders()}
            for value in answer.headers.get_all("Set-Cookie") or []:
                found = SET_COOKIE.match(value)
                if found:
                    self.cookie = found.group(1) or None
        finally:
            conn.close()
        token = CSRF_FIELD.search(text)
        if token:
            self.csrf = token.group(1)
        return Page(answer.status, got, text)

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str] | None = None) -> Page:
        """A form post carrying the CSRF token of the last page read."""
        return self.request("POST", path, {**(form or {}), "csrf_token": self.csrf or ""})

    def open_login(self) -> None:
        self.get("/admin/login")

    def log_in(self, username: str, password: str, next_target: str = "") -> Page:
        self.open_login()
        form = {"username": username, "password": password}
        if next_target:
            form["next"] = next_target
        return self.post("/admin/login", form)


def create_user(
    gateway: Gateway, name: str, password: str, role: str = "admin", *extra: str
) -> None:
    """`hoso admin create-user` (`extra`: more options, e.g. "--office", "phuong-a")."""
    made = subprocess.run(
        [
            *(sys.executable, "-m", "hoso.cli", "admin", "create-user", name),
            *("--role", role),
            "--password-stdin",
            *extra,
        ],
        input=password + "\n",
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
