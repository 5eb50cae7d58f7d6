"""Offices are isolated from each other, against a real `hoso gateway` process and its Redis.

Two offices, A and B, each with a dossier (distinct canary phone numbers), a station, keys and
SMS; the province's shared pool has a modem. Every route the gateway serves (read from the Flask
app's url_map: a new route without a case here fails `test_every_route_has_a_case`) is asked for
B's objects by every role of office A (office administrator, leader, viewer) and by A's
department and station keys: each answer is a refusal or tells nothing (an object of B answers as
an unknown one does: the same status as for a made-up id), none holds B's canary phone (in any
form), name, desk, key, modem or account, and B's objects are as they were afterwards. Province
roles do see B's objects (the control that the canaries are there to be found).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
import redis

from config.settings import Settings, SmsSettings
from gateway.core.messages import Priority
from gateway.core.phones import mask_phone
from gateway.core.roles import Role
from gateway.core.stations import Station
from gateway.http.app import create_app
from gateway.keyfiles import MasterKeyFiles
from gateway.store import keys
from gateway.store.credentials import Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.routes import RouteRules
from gateway.store.sms_records import SmsRecords
from gateway.store.stations import Stations
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import event_body, registration_body
from tests.security.dashboard import Visitor, create_user
from tests.signing import DistinctSeconds, HttpClient, Signer

A, B = "phuong-a", "phuong-b"
PASSWORD = "mat-khau-dung-1"
A_PHONE, B_PHONE = "0912345601", "0987654398"
B_E164 = "+84987654398"
NO_DOSSIER_PHONE = "+84977000111"  # a citizen's SMS answered about no dossier: the province's
B_APPLICANT = "Trần Thị Canarybê"
B_SMS_TEXT = "Ho so canary B da xong"
PROVINCE_SMS_TEXT = "Soan HS <ma> canary tinh"
B_TEMPLATE = "Huong dan rieng canary phuong B: HS <ma ho so> <ma bi mat>"
B_DESK = "Quầy canary phường B"
B_STATION = "quay-canary-b"
B_ADMIN = "quantri-canary-b"
SHARED_MODEM = "modem-canary-chung"
B_ADDRESS = "Số 9 đường Canary"
MASTER_KEY_FILE = "HOSO_SECURITY_MASTER_KEY_FILE"
GHOST = {  # made-up ids of the same shapes: what "unknown" answers
    "code": "GHOST-000-999",
    "message_id": "987654321",
    "key_id": "k_ghostghostghostghost",
    "modem": "modem-ghost",
    "username": "tai-khoan-ma",
    "office": "phuong-ma",
    "desk": quote("Quầy ma"),
}
A_ROLES = {
    "office-admin": (Role.OFFICE_ADMIN, A),
    "leader": (Role.LEADER, A),
    "viewer": (Role.VIEWER, A),
}
PROVINCE_ROLES = {
    "province-admin": (Role.PROVINCE_ADMIN, "*"),
    "province-leader": (Role.LEADER, "*"),
}


@dataclass
class Answer:
    status: int
    text: str


@dataclass
class Admin:
    """A logged-in dashboard session, over raw HTTP (the session cookie carried by hand)."""

    visitor: Visitor
    csrf: str = ""

    def call(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: Any = None,
    ) -> Answer:
        url = urlsplit(self.visitor.base)
        conn = http.client.HTTPConnection(
            url.hostname or "127.0.0.1",
            url.port,
            timeout=60,
            source_address=(self.visitor.address, 0),
        )
        headers = {"Cookie": f"hoso_admin={self.visitor.cookie}", "X-CSRF-Token": self.csrf}
        raw: bytes | None = None
        if form is not None:
            raw = urlencode({**form, "csrf_token": self.csrf}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            raw = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=raw, headers=headers)
            answer = conn.getresponse()
            return Answer(answer.status, answer.read().decode("utf-8", "replace"))
        finally:
            conn.close()


@dataclass
class World:
    gateway: Gateway
    client: redis.Redis
    a_code: str
    b_code: str
    b_short: str
    b_secret: str
    b_sms: str  # a failed notice about B's dossier (resendable)
    b_reply: str  # a reply about no dossier (the province's)
    b_key: str
    department_a: HttpClient
    station_a: HttpClient
    admins: dict[str, Admin] = field(default_factory=dict)

    def objects(self) -> dict[str, str]:
        return {
            "code": self.b_code,
            "message_id": self.b_sms,
            "key_id": self.b_key,
            "modem": SHARED_MODEM,
            "username": B_ADMIN,
            "office": B,
            "desk": quote(B_DESK),  # in a query string
        }

    def canaries(self) -> list[str]:
        """What no answer to office A may hold."""
        return [
            B_PHONE,
            B_E164,
            B_E164[1:],
            B_PHONE[1:],
            mask_phone(B_E164),
            mask_phone(NO_DOSSIER_PHONE),
            B_APPLICANT,
            B_SMS_TEXT,
            PROVINCE_SMS_TEXT,
            B_TEMPLATE,
            B_DESK,
            B_STATION,
            B_ADMIN,
            B_ADDRESS,
            SHARED_MODEM,
            self.b_code,
            self.b_short,
            self.b_secret,
            self.b_key,
        ]


def keyed(gateway: Gateway, kind: str, owner: str, office: str) -> tuple[str, HttpClient]:
    made = gateway.hoso("keys", "create", f"--{kind}", owner, "--office", office, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    signer = Signer(key["key_id"], key["secret"], DistinctSeconds())
    return key["key_id"], HttpClient(gateway.base, signer)


def register(department: HttpClient, n: int, phone: str, applicant: str) -> dict[str, str]:
    body = registration_body(n, phones=[phone], applicant_name=applicant)
    answer = department.post("/api/v1/dossiers", body)
    assert answer.status == 201, answer.text
    made: dict[str, str] = answer.body
    return made


def logged_in(gateway: Gateway, username: str, address: str) -> Admin:
    visitor = Visitor(gateway.base, address=address)
    assert visitor.log_in(username, PASSWORD).status == 302
    admin = Admin(visitor)
    session = admin.call("GET", "/admin/api/session")
    assert session.status == 200, session.text
    admin.csrf = json.loads(session.text)["csrf_token"]
    return admin


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("offices")
    with running_gateway(home) as gateway:
        client = gateway.redis.client()
        offices = Offices.of(client, SmsSettings())
        offices.set(A, {"name": "UBND phường A", "hotline": "02811111111"})
        offices.set(B, {"name": "UBND phường B", "hotline": "02822222222", "address": B_ADDRESS})
        Templates(client).save("reply_help", B_TEMPLATE, office=B)  # B's own override
        _, department_a = keyed(gateway, "department", "tuphap", A)
        _, department_b = keyed(gateway, "department", "tuphap-b", B)
        _, station_a = keyed(gateway, "station", "quay-a", A)
        b_key, _ = keyed(gateway, "station", B_STATION, B)
        a_made = register(department_a, 1, A_PHONE, "Nguyễn Văn A")
        b_made = register(department_b, 2, B_PHONE, B_APPLICANT)
        moved = department_b.post(
            f"/api/v1/dossiers/{b_made['code']}/events", event_body("b-1", 4, desk=B_DESK)
        )
        assert moved.status == 201, moved.text
        store = DossierStore(client)
        store.index_by_due([a_made["code"], b_made["code"]])  # both overdue (due in 2024)
        stations = Stations(client)
        stations.save(Station("quay-a", "Quầy phường A", office=A))
        stations.save(Station(B_STATION, B_DESK, "Quầy B", allowed_hours=4.0, office=B))
        outbox = Outbox(client)
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        b_sms = outbox.enqueue(
            B_E164, B_SMS_TEXT, Priority.NOTIFICATION, now_ms, kind="notice", dossier=b_made["code"]
        )
        claimed = outbox.claim("m1", "", now_ms)
        assert claimed is not None
        assert claimed.id == b_sms
        outbox.give_up(claimed, "+CMS ERROR: 38", now_ms)
        b_reply = outbox.enqueue(
            NO_DOSSIER_PHONE, PROVINCE_SMS_TEXT, Priority.REPLY, now_ms, kind="reply_help"
        )
        outbox.enqueue(
            "+" + "84" + A_PHONE[1:],
            "Ho so A",
            Priority.NOTIFICATION,
            now_ms,
            kind="notice",
            dossier=a_made["code"],
        )
        ModemRegistry(client).publish_health(SHARED_MODEM, {"state": "up", "port": "/dev/null"})
        # Accounts: through the CLI (its --office), and the rest in the store directly.
        create_user(gateway, "office-admin", PASSWORD, "office-admin", "--office", A)
        create_user(gateway, B_ADMIN, PASSWORD, "office-admin", "--office", B)
        users = AdminUsers(client)
        for name, (role, office) in {**A_ROLES, **PROVINCE_ROLES}.items():
            if name != "office-admin":
                users.create(name, PASSWORD, role, office=office)
        built = World(
            gateway,
            client,
            a_made["code"],
            b_made["code"],
            b_made["short_code"],
            b_made["secret"],
            b_sms,
            b_reply,
            b_key,
            department_a,
            station_a,
        )
        for n, account in enumerate([*A_ROLES, *PROVINCE_ROLES], start=20):
            built.admins[account] = logged_in(gateway, account, f"127.0.0.{n}")
        yield built
        client.close()


# -- the cases: every route of the gateway, asked for office B's objects ----------------------


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {code} {short} {message_id} {key_id} {modem} {username} {phone}: B's (or ghosts)
    form: dict[str, str] | None = None
    body: Any = None
    ghost: bool = True  # an object of B answers as a made-up one does


def fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def filled(case: Case, values: dict[str, str]) -> Case:
    form = None if case.form is None else {k: fill(v, values) for k, v in case.form.items()}
    body = case.body
    if body is not None:
        body = json.loads(fill(json.dumps(body, ensure_ascii=False), values))
    return Case(case.method, fill(case.path, values), form, body, case.ghost)


TEMPLATE_BODY = {"body": "Soan HS <ma> gui {office}."}
ADMIN_CASES: dict[str, list[Case]] = {
    "admin.home": [Case("GET", "/admin/")],
    "admin.not_found": [Case("GET", "/admin/nothing/{code}")],
    "admin.static": [Case("GET", "/admin/static/admin.css")],
    "admin.login": [
        Case("GET", "/admin/login"),
        Case("POST", "/admin/login", form={"username": "{username}", "password": "sai-mat-khau"}),
    ],
    "admin.api_session": [Case("GET", "/admin/api/session")],
    "admin_accounts.account_page": [Case("GET", "/admin/account")],
    "admin_accounts.change_own_password": [
        Case(
            "POST",
            "/admin/account/password",
            form={
                "password": "sai-mat-khau",
                "new_password": "x" * 12,
                "repeat_password": "x" * 12,
            },
        )
    ],
    "admin_accounts.reset_password": [
        Case(
            "POST",
            "/admin/accounts/{username}/password",
            form={"new_password": "mat-khau-chiem-1", "repeat_password": "mat-khau-chiem-1"},
        )
    ],
    "admin_charts.charts_page": [Case("GET", "/admin/charts")],
    "admin_charts.api_charts": [Case("GET", "/admin/api/charts")],
    "admin_records.dossiers_page": [
        Case("GET", "/admin/dossiers?q={phone}"),
        Case("GET", "/admin/dossiers?q={code}"),
        Case("GET", "/admin/dossiers?q={short}"),
    ],
    "admin_records.api_dossiers": [
        Case("GET", "/admin/api/dossiers?q={phone}"),
        Case("GET", "/admin/api/dossiers?q={code}"),
        Case("GET", "/admin/api/dossiers?q={short}"),
    ],
    "admin_records.dossier_page": [
        Case("GET", "/admin/dossiers/{code}"),
        Case("GET", "/admin/dossiers/{short}"),
    ],
    "admin_records.api_dossier": [
        Case("GET", "/admin/api/dossiers/{code}"),
        Case("GET", "/admin/api/dossiers/{short}"),
    ],
    "admin_records.overdue_page": [Case("GET", "/admin/overdue")],
    "admin_records.api_overdue": [Case("GET", "/admin/api/overdue")],
    "admin_records.messages": [
        Case("GET", "/admin/messages"),
        Case("GET", "/admin/messages?phone={phone}"),
        Case("GET", "/admin/messages?dossier={code}"),
        Case("GET", "/admin/messages?dossier={short}"),
        Case("GET", "/admin/messages?state=failed"),
    ],
    "admin_records.api_messages": [
        Case("GET", "/admin/api/messages"),
        Case("GET", "/admin/api/messages?phone={phone}"),
        Case("GET", "/admin/api/messages?phone=0977000111"),
        Case("GET", "/admin/api/messages?dossier={code}"),
        Case("GET", "/admin/api/messages?dossier={short}"),
        Case("GET", "/admin/api/messages?state=failed"),
    ],
    "admin_records.messages_resend": [
        Case("POST", "/admin/messages/{message_id}/resend", {}),
        Case("POST", "/admin/messages/{reply_id}/resend", {}),
    ],
    "admin_records.api_messages_resend": [
        Case("POST", "/admin/api/messages/{message_id}/resend"),
        Case("POST", "/admin/api/messages/{reply_id}/resend"),
    ],
    "admin.modems": [Case("GET", "/admin/modems")],
    "admin.api_modems": [Case("GET", "/admin/api/modems")],
    "admin.modem_action": [
        Case("POST", "/admin/modems/{modem}/disable", {}),
        Case("POST", "/admin/modems/{modem}/caps", {"per_day": "1"}),
        Case("POST", "/admin/modems/{modem}/unquarantine", {}),
    ],
    "admin.api_modem_change": [Case("POST", "/admin/api/modems/{modem}", body={"enabled": False})],
    "admin.api_modem_unquarantine": [Case("POST", "/admin/api/modems/{modem}/unquarantine")],
    "admin_routes.api_links": [Case("GET", "/admin/api/links")],
    "admin_routes.routes_page": [
        Case("GET", "/admin/routes"),
        Case("POST", "/admin/routes", {"office": B, "kind": "notice", "routes": "modems"}),
    ],
    "admin_routes.api_routes": [Case("GET", "/admin/api/routes")],
    "admin_routes.api_route_change": [
        Case("PUT", f"/admin/api/routes/{B}/notice", body={"routes": ["modems"]})
    ],
    "admin_routes.api_route_reset": [Case("DELETE", f"/admin/api/routes/{B}/notice")],
    "admin_keys.keys_page": [Case("GET", "/admin/keys")],
    "admin_keys.api_keys": [Case("GET", "/admin/api/keys")],
    "admin_keys.keys_create": [
        Case("POST", "/admin/keys", {"kind": "station", "owner": "quay-a-2", "office": B})
    ],
    "admin_keys.api_keys_create": [
        Case("POST", "/admin/api/keys", body={"kind": "station", "owner": "quay-a-3", "office": B})
    ],
    "admin_keys.keys_revoke": [Case("POST", "/admin/keys/{key_id}/revoke", {})],
    "admin_keys.api_keys_revoke": [Case("POST", "/admin/api/keys/{key_id}/revoke")],
    "admin_keys.stations_page": [Case("GET", "/admin/stations")],
    "admin_keys.api_stations": [Case("GET", "/admin/api/stations")],
    # A station id is one name across the province: another office's cannot be taken over (it
    # is refused as an unusable id, so this case is not compared with a made-up id).
    "admin_keys.stations_save": [
        Case("POST", "/admin/stations", {"id": B_STATION, "desk": "Chiếm"}, ghost=False),
        Case("POST", "/admin/stations", {"id": "quay-a-moi", "desk": "Quầy A mới", "office": B}),
    ],
    "admin_keys.api_stations_save": [
        Case("POST", "/admin/api/stations", body={"id": B_STATION, "desk": "Chiếm"}, ghost=False),
        Case("POST", "/admin/api/stations", body={"id": "quay-a-moi2", "desk": "A", "office": B}),
    ],
    "admin.templates_page": [
        Case("GET", "/admin/templates"),
        Case("GET", "/admin/templates?office={office}"),
    ],
    "admin.apitemplates": [
        Case("GET", "/admin/api/templates"),
        Case("GET", "/admin/api/templates?office={office}"),
    ],
    "admin.template_page": [
        Case("GET", "/admin/templates/reply_help"),
        Case("POST", "/admin/templates/reply_help", {"action": "save", **TEMPLATE_BODY}),
        Case("GET", "/admin/templates/reply_help?office={office}"),
        Case(
            "POST",
            "/admin/templates/reply_help?office={office}",
            {"action": "save", **TEMPLATE_BODY},
        ),
    ],
    "admin.api_template_save": [
        Case("PUT", "/admin/api/templates/reply_help", body=TEMPLATE_BODY),
        Case("PUT", "/admin/api/templates/reply_help?office={office}", body=TEMPLATE_BODY),
    ],
    "admin.api_template_reset": [
        Case("DELETE", "/admin/api/templates/reply_help"),
        Case("DELETE", "/admin/api/templates/reply_help?office={office}"),
    ],
    "admin.api_template_preview": [
        Case("POST", "/admin/api/templates/reply_help/preview", body=TEMPLATE_BODY)
    ],
    "admin_offices.offices_page": [Case("GET", "/admin/offices")],
    "admin_offices.office_page": [Case("GET", "/admin/offices/{office}")],
    "admin_offices.offices_save": [
        Case("POST", "/admin/offices", {"id": "{office}", "name": "Chiếm"})
    ],
    "admin_offices.api_offices": [Case("GET", "/admin/api/offices")],
    "admin_offices.api_offices_save": [
        Case("POST", "/admin/api/offices", body={"id": "{office}", "name": "Chiếm"})
    ],
    "admin_province.province_page": [
        Case("GET", "/admin/province"),
        Case("GET", "/admin/province?format=csv"),
    ],
    "admin_province.office_page": [
        Case("GET", "/admin/province/{office}"),
        Case("GET", "/admin/province/{office}?format=csv&table=desks"),
    ],
    "admin_province.desk_page": [
        Case("GET", "/admin/province/{office}/desk?name={desk}"),
        Case("GET", "/admin/province/{office}/desk?name={desk}&format=csv"),
    ],
    "admin_province.api_province": [Case("GET", "/admin/api/province")],
    "admin_province.api_office": [Case("GET", "/admin/api/province/{office}")],
    "admin_province.api_desk": [Case("GET", "/admin/api/province/{office}/desk?name={desk}")],
    "admin.logout": [Case("POST", "/admin/logout", {})],  # asked last: it ends the session
}
SCANNED_AT = "2024-04-23T10:00:00+07:00"
DEPARTMENT_CASES: dict[str, list[Case]] = {
    "dossiers.read": [Case("GET", "/api/v1/dossiers/{code}")],
    "dossiers.push_event": [
        Case("POST", "/api/v1/dossiers/{code}/events", body=event_body("chiem-1", 5))
    ],
    "dossiers.handoff_record": [Case("GET", "/api/v1/dossiers/{code}/handoffs")],
    "receipts.receipt": [Case("GET", "/api/v1/dossiers/{code}/receipt")],
}
STATION_CASES: dict[str, list[Case]] = {
    "scans.record_scan": [
        Case(
            "POST",
            "/api/v1/scans",
            body={"station_id": "quay-a", "seq": 1, "code": "{code}", "scanned_at": SCANNED_AT},
        ),
        Case(
            "POST",
            "/api/v1/scans",
            body={"station_id": "quay-a", "seq": 2, "code": "{short}", "scanned_at": SCANNED_AT},
        ),
    ],
    "stations.own_settings": [Case("GET", "/api/v1/stations/me")],
}
PUBLIC_ENDPOINTS = {  # no office's staff behind them: asked by anyone, B's canaries absent
    "lookup.form": [Case("GET", "/")],
    "lookup.look_up": [Case("POST", "/", {"ma": "{short}", "bi_mat": "SAI-BI-MAT"})],
    "lookup.static": [Case("GET", "/static/lookup/lookup.js")],
    "static": [Case("GET", "/static/admin.css")],
    "health.healthz": [Case("GET", "/healthz")],
    "health.readyz": [Case("GET", "/readyz")],
    "metrics.scrape": [Case("GET", "/metrics")],
    "openapi.document": [Case("GET", "/api/v1/openapi.json")],
    "receipts.decode": [Case("POST", "/api/v1/decode", body={"image": "khong-phai-anh"})],
}
# Registering B's code again from A's department is its own case below (a new code registers).
REGISTER = "dossiers.register"


def test_every_route_has_a_case() -> None:
    app = create_app(Settings(), redis.Redis(), b"k" * 32)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    covered = {*ADMIN_CASES, *DEPARTMENT_CASES, *STATION_CASES, *PUBLIC_ENDPOINTS, REGISTER}
    assert endpoints - covered == set(), "a route without an isolation case"
    assert covered - endpoints == set()


# -- asking -------------------------------------------------------------------------------------


def b_values(world: World) -> dict[str, str]:
    return world.objects() | {"short": world.b_short, "phone": B_PHONE, "reply_id": world.b_reply}


GHOSTS = GHOST | {"short": "Z9ZZ-9Z9", "phone": "0966000000", "reply_id": "987654322"}


def request_text(case: Case) -> str:
    return json.dumps([case.path, case.form, case.body], ensure_ascii=False)


def leaked(
    world: World, case: Case, answer_text: str, canaries: list[str] | None = None
) -> list[str]:
    """B's canaries in an answer, but those the request itself carried (an echo of what was
    typed, or of a typed number masked, tells nothing: a made-up one is echoed alike; what the
    SMS rows of such a number hold, their texts and dossiers, are canaries of their own)."""
    asked = request_text(case)
    asked += " ".join(mask_phone("+84" + p[1:]) for p in (B_PHONE, "0977000111") if p in asked)
    wanted = world.canaries() if canaries is None else canaries
    return [c for c in wanted if c in answer_text and c not in asked]


def signed_call(client: HttpClient, case: Case) -> Answer:
    answer = client.request(case.method, case.path, case.body)
    return Answer(answer.status, answer.text)


def public_call(base: str, case: Case) -> Answer:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    headers: dict[str, str] = {}
    raw: bytes | None = None
    if case.form is not None:
        raw = urlencode(case.form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif case.body is not None:
        raw = json.dumps(case.body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(case.method, case.path, body=raw, headers=headers)
        answer = conn.getresponse()
        return Answer(answer.status, answer.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def admin_call(admin: Admin, case: Case) -> Answer:
    return admin.call(case.method, case.path, form=case.form, body=case.body)


def b_state(world: World) -> dict[str, Any]:
    """Everything of office B (and of the province) a request of office A might change."""
    client = world.client
    dossier, history = DossierStore(client).get_with_history(world.b_code)
    keyring = Keyring(client, MasterKeyFiles(Path(world.gateway.env[MASTER_KEY_FILE])))
    infos = [i for i in keyring.infos(list(keyring.key_ids())) if i.office == B]
    registry = ModemRegistry(client)
    sms = SmsRecords(client).fields([world.b_sms, world.b_reply], ("state", "resent_as"))
    return {
        "dossier": dossier,
        "history": history,
        "station": Stations(client).find(B_STATION),
        "stations_of_b": [s.id for s in Stations(client).all() if s.office == B],
        "keys_of_b": [(i.key_id, i.revoked_at) for i in infos],
        "modems_changed": registry.live_changes(),
        "quarantine": registry.quarantined(SHARED_MODEM),
        "sms": sms,
        "b_admin_login": AdminUsers(client).login(B_ADMIN, PASSWORD).outcome.value,
        "offices": client.hgetall(keys.offices()),
        "templates_edited": sorted(n for n, (_, e) in Templates(client).all().items() if e),
        "templates_of_b": {n: t.body for n, (t, e) in Templates(client).all(B).items() if e},
        "routes": [
            (r.office, r.kind, [str(x) for x in r.routes], r.source)
            for r in RouteRules(client).shown()
        ],
    }


# -- the matrix -----------------------------------------------------------------------------


def relogged(world: World, role: str) -> Admin:
    """A fresh session of `role` (the matrix ends each one by logging out)."""
    address = world.admins[role].visitor.address
    admin = logged_in(world.gateway, role, address)
    world.admins[role] = admin
    return admin


@pytest.mark.slow
@pytest.mark.parametrize("role", list(A_ROLES))
def test_office_a_roles_neither_see_nor_change_office_b(world: World, role: str) -> None:
    before = b_state(world)
    admin = relogged(world, role)
    failures = []
    for endpoint, cases in ADMIN_CASES.items():
        for case in cases:
            asked = filled(case, b_values(world))
            answer = admin_call(admin, asked)
            found = leaked(world, asked, answer.text)
            if found:
                failures.append(f"{endpoint} {asked.method} {asked.path}: shows {found}")
            if answer.status >= 500:
                failures.append(f"{endpoint} {asked.method} {asked.path}: {answer.status}")
            if case.ghost and asked != case:
                ghost = admin_call(admin, filled(case, GHOSTS))
                if ghost.status != answer.status:
                    failures.append(
                        f"{endpoint} {asked.method} {asked.path}: {answer.status} for B's, "
                        f"{ghost.status} for a made-up one"
                    )
    assert "\n".join(failures) == ""
    assert b_state(world) == before


def test_office_a_roles_are_refused_what_their_role_may_not_do(world: World) -> None:
    leader = relogged(world, "leader")
    viewer = relogged(world, "viewer")
    office_admin = relogged(world, "office-admin")
    for path in ("/admin/api/modems", "/admin/api/messages", "/admin/api/keys"):
        assert leader.call("GET", path).status == 403
    assert leader.call("GET", "/admin/modems").status == 403
    assert (
        viewer.call("POST", "/admin/api/keys", body={"kind": "station", "owner": "x"}).status == 403
    )
    for admin in (office_admin, viewer, leader):
        assert admin.call("GET", "/admin/api/routes").status == 403
        assert admin.call("DELETE", "/admin/api/templates/reply_help").status == 403


def test_office_a_roles_see_office_a(world: World) -> None:
    """The control: the filters keep A's own objects (they do not hide everything)."""
    a_masked = mask_phone("+84" + A_PHONE[1:])
    for role in A_ROLES:
        admin = relogged(world, role)
        found = admin.call("GET", f"/admin/api/dossiers?q={A_PHONE}")
        assert found.status == 200
        assert a_masked in found.text
        assert admin.call("GET", f"/admin/api/dossiers/{world.a_code}").status == 200
        overdue = admin.call("GET", "/admin/api/overdue")
        assert world.a_code in overdue.text
    viewer = world.admins["viewer"]
    messages = json.loads(viewer.call("GET", "/admin/api/messages").text)["messages"]
    assert [m["dossier"] for m in messages] == [world.a_code]
    office_admin = world.admins["office-admin"]
    stations = json.loads(office_admin.call("GET", "/admin/api/stations").text)["stations"]
    assert {s["office"] for s in stations} == {A}
    made = office_admin.call(
        "POST", "/admin/api/keys", body={"kind": "department", "owner": "dat-dai", "office": B}
    )
    assert made.status == 201
    assert json.loads(made.text)["office"] == A  # an office administrator makes its own


def test_an_office_administrator_changes_its_offices_templates_not_the_provinces(
    world: World,
) -> None:
    office_admin = relogged(world, "office-admin")
    body = {"body": "Huong dan cua phuong A: HS <ma ho so> <ma bi mat>"}
    own = office_admin.call("PUT", f"/admin/api/templates/reply_help?office={A}", body=body)
    assert own.status == 200, own.text
    assert Templates(world.client).get("reply_help", A).body == body["body"]
    assert office_admin.call("DELETE", f"/admin/api/templates/reply_help?office={A}").status == 200
    assert Templates(world.client).get("reply_help", A).body != body["body"]
    province = office_admin.call("PUT", "/admin/api/templates/reply_help", body=body)
    assert province.status == 403
    page = office_admin.call("GET", f"/admin/templates/reply_help?office={A}")
    assert "Lưu" in page.text
    assert "readonly" not in page.text
    assert "readonly" in office_admin.call("GET", "/admin/templates/reply_help").text


@pytest.mark.parametrize("role", list(PROVINCE_ROLES))
def test_province_roles_see_every_office(world: World, role: str) -> None:
    """The control: the canaries are there to be found by those who may."""
    admin = relogged(world, role)
    found = admin.call("GET", f"/admin/api/dossiers?q={B_PHONE}")
    assert mask_phone(B_E164) in found.text
    assert admin.call("GET", f"/admin/api/dossiers/{world.b_code}").status == 200
    assert world.b_code in admin.call("GET", "/admin/api/overdue").text
    assert B_DESK in admin.call("GET", "/admin/charts").text  # where B's dossier waits
    assert B_DESK in admin.call("GET", "/admin/province").text  # B's busiest desk


def test_a_department_of_office_a_cannot_reach_office_b(world: World) -> None:
    before = b_state(world)
    failures = []
    for endpoint, cases in DEPARTMENT_CASES.items():
        for case in cases:
            asked = filled(case, b_values(world))
            answer = signed_call(world.department_a, asked)
            ghost = signed_call(world.department_a, filled(case, GHOSTS))
            if answer.status != 404 or ghost.status != 404:
                failures.append(f"{endpoint}: {answer.status} for B's, {ghost.status} made-up")
            if found := leaked(world, asked, answer.text):
                failures.append(f"{endpoint}: shows {found}")
    # Registering B's code again from A's department is refused, and B's dossier stays B's.
    again = registration_body(3, code=world.b_code, phones=[A_PHONE])
    answer = signed_call(world.department_a, Case("POST", "/api/v1/dossiers", body=again))
    assert not 200 <= answer.status < 300, answer.text
    assert not leaked(world, Case("POST", "/api/v1/dossiers", body=again), answer.text)
    assert failures == []
    assert b_state(world) == before


def test_a_station_of_office_a_cannot_scan_office_b(world: World) -> None:
    before = b_state(world)
    for case in STATION_CASES["scans.record_scan"]:
        asked = filled(case, b_values(world))
        answer = signed_call(world.station_a, asked)
        ghost = signed_call(world.station_a, filled(case, GHOSTS))
        assert answer.status == ghost.status == 404, answer.text
        assert json.loads(answer.text)["outcome"] == "unknown-dossier"
        assert json.loads(ghost.text)["outcome"] == "unknown-dossier"
        assert not leaked(world, asked, answer.text)
    me = signed_call(world.station_a, STATION_CASES["stations.own_settings"][0])
    assert me.status == 200
    assert not leaked(world, STATION_CASES["stations.own_settings"][0], me.text)
    assert b_state(world) == before


def test_public_routes_show_no_office_b_canary(world: World) -> None:
    """Public routes name modems and stations by design (/metrics), never a citizen."""
    citizens = [B_PHONE, B_E164, mask_phone(B_E164), B_APPLICANT, B_SMS_TEXT, world.b_secret]
    for endpoint, cases in PUBLIC_ENDPOINTS.items():
        for case in cases:
            asked = filled(case, b_values(world))
            answer = public_call(world.gateway.base, asked)
            assert answer.status < 500, endpoint
            assert not leaked(world, asked, answer.text, citizens), endpoint


@pytest.mark.slow
def test_a_changed_office_takes_effect_at_once(world: World) -> None:
    users = AdminUsers(world.client)
    users.create("chuyen-don-vi", PASSWORD, Role.VIEWER, office=A)
    admin = logged_in(world.gateway, "chuyen-don-vi", "127.0.0.40")
    assert admin.call("GET", f"/admin/api/dossiers/{world.b_code}").status == 404
    users.set_role("chuyen-don-vi", Role.VIEWER, B)
    assert admin.call("GET", f"/admin/api/dossiers/{world.b_code}").status == 200
    assert admin.call("GET", f"/admin/api/dossiers/{world.a_code}").status == 404
    users.set_role("chuyen-don-vi", Role.LEADER, B)
    assert admin.call("GET", "/admin/api/messages").status == 403
