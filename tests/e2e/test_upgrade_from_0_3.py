"""Upgrading a single-office installation to offices (docs/upgrades.md, "0.3 → 0.4"): the data
hoso 0.3 wrote (tests/fixtures/release_0_3: made by that release's own code) on the Redis a
current `hoso gateway` process starts on, with the [sms] settings the installation ran with.

The installation is office "main", named from [sms]; nothing is rewritten: the old department
key signs requests and sees its dossiers, the station key scans, the old receipts' short codes and
secrets look up, the dashboard's account logs in; and reading leaves every key as it was."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER
from tests.e2e.conftest import Gateway, running_gateway
from tests.fixtures.release_0_3 import redis_json
from tests.readable import assert_readable, readable
from tests.security.dashboard import Visitor
from tests.signing import DistinctSeconds, HttpClient, Signer

DATA: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures/release_0_3/data.json").read_text(encoding="utf-8")
)
OFFICE = DATA["sms_settings"]["HOSO_SMS_OFFICE"]  # UBND phường Bến Nghé
HOTLINE = DATA["sms_settings"]["HOSO_SMS_HOTLINE"]
NUMBER = DATA["sms_settings"]["HOSO_SMS_NUMBER"]
FIRST, SECOND, THIRD = DATA["dossiers"]


def raw_client(server: RedisServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket))


def as_found(client: redis.Redis) -> dict[str, Any]:
    """Every key and its value (times to live aside: they run down by themselves)."""
    return {
        name: {k: v for k, v in entry.items() if k != "pttl"}
        for name, entry in redis_json.dump(client).items()
    }


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The 0.3 data files, then the current gateway started on them (as after `apt upgrade`)."""
    home = tmp_path_factory.mktemp("upgraded")
    old = RedisServer(home / "redis", binary=REDIS_SERVER).start()
    redis_json.load(raw_client(old), DATA["redis"])
    old.stop()  # written to its AOF: the files the new release finds
    key_file = home / "master.key"
    key_file.write_bytes(base64.b64decode(DATA["master_key_file"]))
    key_file.chmod(0o600)
    with running_gateway(home, **DATA["sms_settings"]) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def as_written(upgraded: Gateway) -> dict[str, Any]:
    """What the new release found, before anyone used it."""
    found = as_found(raw_client(upgraded.redis))
    assert set(found) == set(DATA["redis"])  # every key of 0.3 loaded, and the gateway wrote none
    return found


def client_of(gateway: Gateway, kind: str) -> HttpClient:
    key = DATA["keys"][kind]
    return HttpClient(gateway.base, Signer(key["key_id"], key["secret"], DistinctSeconds()))


def look_up(gateway: Gateway, code: str, secret: str) -> str:
    answer = requests.post(gateway.base + "/", data={"ma": code, "bi_mat": secret}, timeout=10)
    assert answer.status_code == 200
    return " ".join(readable(answer.text).split())


def test_reading_the_old_data_finds_one_office_main_and_rewrites_nothing(
    upgraded: Gateway, as_written: dict[str, Any]
) -> None:
    department = client_of(upgraded, "department")
    # The old department key signs requests and sees its dossiers, which are office main's.
    for dossier in DATA["dossiers"]:
        read = department.get(f"/api/v1/dossiers/{dossier['code']}")
        assert read.status == 200, read.text
        assert read.body["short_code"] == dossier["short_code"]
    store = DossierStore(upgraded.redis.client())
    assert {store.get(d["code"]).office for d in DATA["dossiers"]} == {"main"}

    # The old receipt, printed again, is the same paper: its short code, its secret, the office
    # named from [sms] (with its hotline and the number to text).
    receipt = department.get(f"/api/v1/dossiers/{FIRST['code']}/receipt?format=html")
    assert receipt.status == 200, receipt.text
    paper = " ".join(readable(receipt.text).split())
    assert OFFICE in paper
    assert f"Mã bí mật: {FIRST['secret']}" in paper
    short = FIRST["short_code"]
    assert f"Soạn HS {short[:4]}-{short[4:]} {FIRST['secret']} gửi {NUMBER}" in paper
    assert f"Đường dây nóng: {HOTLINE}" in paper
    assert_readable("the reprinted receipt", paper)

    # What citizens hold (the short code and the secret on their receipt) still opens it.
    page = look_up(upgraded, FIRST["short_code"], FIRST["secret"])
    assert f"Hồ sơ {FIRST['code']}" in page
    assert "Trạng thái: Yêu cầu bổ sung giấy tờ" in page
    assert f"Nơi tiếp nhận {OFFICE}" in page
    assert f"{OFFICE} Tra cứu hồ sơ Theo dõi tiến độ" in page  # the heading
    assert f"gửi {NUMBER}" in page
    assert f"Đường dây hỗ trợ: {HOTLINE}" in page
    assert_readable("the lookup page", page)
    second = look_up(upgraded, SECOND["code"], SECOND["secret"])
    assert f"Hồ sơ {SECOND['code']}" in second
    assert "Không tìm thấy thông tin hồ sơ." in look_up(upgraded, THIRD["short_code"], "ABCDEFGH")

    # The office, and the keys' office, as the operator reads them.
    shown = upgraded.hoso("offices", "show", "main")
    assert shown.returncode == 0, shown.stderr
    assert f"Tên đơn vị: {OFFICE}\n" in shown.stdout
    assert f"Đường dây nóng: {HOTLINE}\n" in shown.stdout
    assert f"Số điện thoại nhận tin nhắn: {NUMBER}\n" in shown.stdout
    listed = upgraded.hoso("keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["key_id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert set(rows) == {DATA["keys"]["department"]["key_id"], DATA["keys"]["station"]["key_id"]}
    assert {(row["office"], row["seal"]) for row in rows.values()} == {("main", "ok")}

    # The administrator's account logs in; the keys page says whose office each key is.
    admin = Visitor(upgraded.base)
    assert admin.log_in(DATA["admin"]["username"], DATA["admin"]["password"]).status == 302
    keys_page = " ".join(readable(admin.get("/admin/keys").text).split())
    department_key = DATA["keys"]["department"]["key_id"]
    assert re.search(rf"{department_key} Phòng ban tuphap {OFFICE} 23/11/2026 08:30", keys_page)
    offices_page = " ".join(readable(admin.get("/admin/offices").text).split())
    assert f"main {OFFICE} UBND phuong Ben Nghe {NUMBER} {HOTLINE}" in offices_page

    # Reading changed nothing 0.3 wrote: no office field added, no key re-sealed.
    after = as_found(raw_client(upgraded.redis))
    changed = [name for name, entry in as_written.items() if after.get(name) != entry]
    assert changed == []
    for name in as_written:
        if (
            name.startswith(("hoso:dossier:", "hoso:apikey:"))
            and as_written[name]["type"] == "hash"
        ):
            assert "office" not in after[name]["value"], name


def test_the_old_keys_still_change_dossiers_and_a_station_key_still_scans(
    upgraded: Gateway, as_written: dict[str, Any]
) -> None:
    department = client_of(upgraded, "department")
    pushed = department.post(
        f"/api/v1/dossiers/{SECOND['code']}/events",
        {"event_id": "sau-nang-cap", "status": 5, "at": "2026-11-25T09:00:00+07:00",
         "note": "Thiếu tờ khai"},
    )  # fmt: skip
    assert pushed.status == 201, pushed.text
    station = client_of(upgraded, "station")
    scanned = station.post(
        "/api/v1/scans",
        {
            "station_id": "quay-1",
            "seq": 1,
            "code": THIRD["short_code"],
            "scanned_at": "2026-11-25T10:00:00+07:00",
        },
    )
    assert scanned.status in (200, 201), scanned.text
    store = DossierStore(upgraded.redis.client())
    assert store.get(THIRD["code"]).holder == "Phòng Tư pháp"  # the station's desk, as in 0.3
    assert store.get(SECOND["code"]).office == "main"
    # A dossier registered now with the old key is main's, like those before it.
    registered = department.post(
        "/api/v1/dossiers",
        {
            "code": "000.00.20.H57-261125-0004",
            "procedure_code": "1.001776",
            "procedure_name": "Cấp bản sao trích lục hộ tịch",
            "phones": ["0901234567"],
            "received_at": "2026-11-25T08:00:00+07:00",
            "due_at": "2026-11-28T17:00:00+07:00",
        },
    )
    assert registered.status == 201, registered.text
    assert store.get("000.00.20.H57-261125-0004").office == "main"
    assert "office" not in as_written[f"hoso:dossier:{FIRST['code']}"]["value"]
