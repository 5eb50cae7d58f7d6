"""Two offices of one province on one installation, end to end through real processes (gateway,
worker, cron, the modem service driving emulated modems): UBND phường Bến Nghé has modem m1,
UBND phường Đa Kao modem m2, and m3 is the province's shared pool. Each citizen is answered by
and signed as their own dossier's office, from the modem they texted; each office's notices
leave from its own modem; when an office's modems are down its notices take the shared pool
only if the office allows it (Bến Nghé does, Đa Kao does not), and otherwise wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FinishedJobRegistry

from config.settings import SmsSettings
from gateway.core.messages import SmsState
from gateway.store import keys
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.queues import NOTIFY_QUEUE
from tests.e2e.stack import Stack, eventually, running_stack
from tests.factories import registration_body
from tests.signing import DistinctSeconds, HttpClient, Signer

pytestmark = [pytest.mark.slow]

MODEMS = ("m1", "m2", "m3")
OFFICE_OF = {"m1": "ben-nghe", "m2": "da-kao"}  # m3: the shared pool
LAN = "0901234567"  # Bến Nghé's citizen
BINH = "0912345678"  # Đa Kao's citizen
STRANGER = "0987654321"
BEN_NGHE = "UBND phuong Ben Nghe"
DA_KAO = "UBND phuong Da Kao"


def config(home: Path) -> Path:
    """hoso.toml: each modem's office (m3 none: the shared pool)."""
    tables = []
    for modem in MODEMS:
        table = f'[[modems]]\nid = "{modem}"\nport = "{home / "sim" / modem}"\n'
        if modem in OFFICE_OF:
            table += f'office = "{OFFICE_OF[modem]}"\n'
        tables.append(table)
    path = home / "hoso.toml"
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("offices")
    with running_stack(home, modems=MODEMS, HOSO_CONFIG=str(config(home))) as running:
        yield running


def store(stack: Stack) -> redis.Redis:
    return stack.gateway.redis.client()


def department(stack: Stack, name: str, office: str) -> HttpClient:
    """The department's system of one office, with the key an administrator made for it."""
    made = stack.hoso("keys", "create", "--department", name, "--office", office, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    return HttpClient(stack.base, Signer(key["key_id"], key["secret"], DistinctSeconds()))


def register(department: HttpClient, n: int, phone: str) -> dict[str, str]:
    now = datetime.now(UTC)
    body = registration_body(
        n,
        phones=[phone],
        received_at=(now - timedelta(minutes=1)).isoformat(),
        due_at=(now + timedelta(days=5)).isoformat(),
    )
    made = department.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    return dict(made.body)


def push(department: HttpClient, code: str, event_id: str, status: int, note: str) -> None:
    body = {
        "event_id": event_id,
        "status": status,
        "at": datetime.now(UTC).isoformat(),
        "note": note,
    }
    pushed = department.post(f"/api/v1/dossiers/{code}/events", body)
    assert pushed.status == 201, pushed.text


def set_modem(stack: Stack, modem: str, enabled: bool, state: str) -> None:
    """`hoso modems set`, as the operator types it, then the pool as the service reports it."""
    done = stack.hoso("modems", "set", modem, f"enabled={'true' if enabled else 'false'}")
    assert done.returncode == 0, done.stderr
    registry = ModemRegistry(store(stack))
    eventually(lambda: registry.health(modem).get("state") == state, f"{modem} {state}")


def waiting_in(stack: Stack, code: str, count: int, queue: str) -> bool:
    """The dossier's `count`-th notice exists and waits, queued for `queue`."""
    outbox = Outbox(store(stack))
    found = (outbox.get(i) for i in sorted(outbox.ids_for(dossier=code), key=int))
    notices = [sms for sms in found if sms is not None and sms.fields.get("kind") == "notice"]
    if len(notices) < count:
        return False
    sms = notices[count - 1]
    return sms.state is SmsState.QUEUED and sms.fields["queue"] == queue


def failover_finished_since(stack: Stack, since: datetime) -> bool:
    """A run of the routing failover (`hoso cron`'s job, every tick) started after `since` and
    finished."""
    connection = redis.Redis.from_url(stack.gateway.redis.url)
    for job_id in FinishedJobRegistry(NOTIFY_QUEUE, connection=connection).get_job_ids():
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            continue
        started = job.started_at
        if started is not None and started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if job.func_name == "worker.routing.fail_over" and started and started > since:
            return True
    return False


@pytest.mark.timeout(900)
def test_two_offices_answer_and_notify_their_own_citizens_from_their_own_modems(
    stack: Stack,
) -> None:
    offices = Offices.of(store(stack), SmsSettings())
    offices.set(
        "ben-nghe",
        {"name": "UBND phường Bến Nghé", "hotline": "028 3822 1111", "numbers": ["0911000001"]},
    )
    offices.set(
        "da-kao",
        {
            "name": "UBND phường Đa Kao",
            "hotline": "028 3822 2222",
            "numbers": ["0922000002"],
            "shared_fallback": False,  # its notices wait for its own modems
        },
    )
    # Several offices: every SMS names its office; the shipped templates (reply_status here)
    # begin with it, one the province wrote naming {office} itself is sent as written.
    for name, body in {
        "reply_unknown": "{office}: khong tra cuu duoc ho so. Lien he {hotline}.",
    }.items():
        done = stack.hoso("templates", "set", name, body)
        assert done.returncode == 0, done.stderr
    ben_nghe = department(stack, "tuphap-bn", "ben-nghe")
    da_kao = department(stack, "tuphap-dk", "da-kao")
    lan, binh, stranger = stack.phone(LAN), stack.phone(BINH), stack.phone(STRANGER)

    # Each dossier's registration notice, from its office's modem, signed by its office.
    a = register(ben_nghe, 1, LAN)
    b = register(da_kao, 2, BINH)
    got = lan.receive()
    assert got["modem"] == "m1"
    assert got["text"].startswith(f"{BEN_NGHE} da tiep nhan ho so {a['code']}")
    got = binh.receive()
    assert got["modem"] == "m2"
    assert got["text"].startswith(f"{DA_KAO} da tiep nhan ho so {b['code']}")

    # Each asks at Bến Nghé's number (m1): answered from m1, each signed by their dossier's office.
    lan.send(f"HS {a['code']}", modem="m1")
    got = lan.receive()
    assert got["modem"] == "m1"
    assert got["text"].startswith(f"{BEN_NGHE}: Ho so {a['code']}: ")
    binh.send(f"HS {b['code']}", modem="m1")
    got = binh.receive()
    assert got["modem"] == "m1"
    assert got["text"].startswith(f"{DA_KAO}: Ho so {b['code']}: ")
    # A stranger asking for Bình's dossier there learns nothing: Bến Nghé's unknown-code reply.
    stranger.send(f"HS {b['code']}", modem="m1")
    stranger.reads(f"{BEN_NGHE}: khong tra cuu duoc ho so. Lien he 028 3822 1111.", modem="m1")
    # At Đa Kao's number the same stranger gets Đa Kao's (worded apart: the same sender, time and
    # text twice is one SMS received twice).
    stranger.send(f"TRA {b['code']}", modem="m2")
    stranger.reads(f"{DA_KAO}: khong tra cuu duoc ho so. Lien he 028 3822 2222.", modem="m2")

    # Every modem down: both offices' next notices wait, each for its own office's modems.
    for modem in MODEMS:
        set_modem(stack, modem, enabled=False, state="disabled")
    push(ben_nghe, a["code"], "a-5", 5, "ban sao CCCD")
    push(da_kao, b["code"], "b-5", 5, "so ho khau")
    eventually(
        lambda: waiting_in(stack, a["code"], 2, keys.outbox_pinned("@ben-nghe")),
        "Bến Nghé's notice waiting for its modems",
    )
    eventually(
        lambda: waiting_in(stack, b["code"], 2, keys.outbox_pinned("@da-kao")),
        "Đa Kao's notice waiting for its modems",
    )

    # The shared pool is back: Bến Nghé (which allows it) sends from it...
    set_modem(stack, "m3", enabled=True, state="up")
    got = lan.receive()
    assert got["modem"] == "m3"
    assert got["text"].startswith(f"{BEN_NGHE}: Ho so {a['code']} can bo sung: ban sao CCCD.")
    # ...while Đa Kao's still waits, after a whole failover run that began once Bến Nghé's had
    # left: nothing reached Bình, and the notice is queued for Đa Kao's modems, visibly.
    seen = datetime.now(UTC)
    eventually(lambda: failover_finished_since(stack, seen), "a failover run after that")
    assert binh.unread() == []
    assert waiting_in(stack, b["code"], 2, keys.outbox_pinned("@da-kao"))

    # Đa Kao's modem is back: its notice leaves from it.
    set_modem(stack, "m2", enabled=True, state="up")
    got = binh.receive()
    assert got["modem"] == "m2"
    assert got["text"].startswith(f"{DA_KAO}: Ho so {b['code']} can bo sung: so ho khau.")
