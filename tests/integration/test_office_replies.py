"""What citizens read when a province has several offices, through the real reply job and the
real notifier with a real Redis: who signs, from which modem, in which office's words, and
whose limits count."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis

from config.settings import ModemSettings, RouteSettings, Settings, SmsSettings
from gateway.core.codes import short_code
from gateway.routing import Router
from gateway.store import keys
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.routes import RouteRules
from tests.factories import code, registration
from worker.context import Context, configure
from worker.jobs import answer_sms
from worker.notifier import Notifier

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
OWNER = "+84901234567"
STRANGER = "+84987654321"
MODEMS = (
    ModemSettings(id="a1", port="/dev/null", office="ben-nghe"),
    ModemSettings(id="b1", port="/dev/null", office="da-kao"),
    ModemSettings(id="s1", port="/dev/null"),  # the province's shared pool
)
_digests = itertools.count()


@pytest.fixture
def ctx(redis_client: redis.Redis) -> Context:
    offices = Offices(redis_client, Offices.of(redis_client, SmsSettings()).get("main"))
    offices.set(
        "ben-nghe",
        {"name": "UBND phường Bến Nghé", "hotline": "028 1111 1111", "numbers": ["0911000001"]},
    )
    offices.set(
        "da-kao",
        {"name": "UBND phường Đa Kao", "hotline": "028 2222 2222", "numbers": ["0922000002"]},
    )
    settings = Settings(modems=MODEMS, sms=replace(SmsSettings(), per_sender_per_hour=2))
    made = configure(settings, redis_client, lambda: NOW)
    # The province signs its replies (as an administrator does with `hoso templates set`).
    for name, body in SIGNED.items():
        made.templates.save(name, body)
    return made


SIGNED = {
    "reply_help": "{office}: tra cuu HS <ma ho so> <ma bi mat> gui {number}. Hotline {hotline}.",
    "reply_unknown": "{office}: khong tra cuu duoc ho so. Hotline {hotline}.",
    "reply_status": "{office}: ho so {code}: {status}, tai {desk}, hen {due}.",
}


def ask(ctx: Context, sender: str, text: str, modem: str) -> tuple[str, str] | None:
    """A citizen's SMS in on `modem`, the job run: the reply's (text, queue it waits in)."""
    n = next(_digests)
    part = InboundPart(modem, sender, text, NOW + timedelta(seconds=n), f"pdu-{n}")
    mid = Inbox(ctx.redis).take(part, NOW)
    assert mid is not None
    answer_sms(mid)
    sms_id = ctx.redis.get(keys.sms_dedupe(f"reply:{mid}"))
    if sms_id is None:
        return None
    sms = Outbox(ctx.redis).get(str(sms_id))
    assert sms is not None
    return sms.text, sms.via


def register(ctx: Context, n: int, office: str) -> tuple[str, str]:
    d = ctx.dossiers.register(registration(n, phones=["0901234567"]), "tuphap", NOW, office).dossier
    return d.code, d.short_code


def test_a_citizen_is_answered_from_the_modem_they_texted_signed_by_its_office(
    ctx: Context,
) -> None:
    answer = ask(ctx, OWNER, "HD", "a1")
    assert answer is not None
    text, via = answer
    assert via == "a1"
    assert text == (
        "UBND phuong Ben Nghe: tra cuu HS <ma ho so> <ma bi mat> gui 0911000001."
        " Hotline 028 1111 1111."
    )


def test_a_dossier_of_another_office_is_answered_from_the_modem_texted_signed_by_its_own(
    ctx: Context,
) -> None:
    code, short = register(ctx, 1, "da-kao")
    answer = ask(ctx, OWNER, f"HS {short}", "a1")
    assert answer is not None
    text, via = answer
    assert via == "a1"  # the number the citizen wrote to
    assert code in text or short in text
    assert "UBND phuong Da Kao" in text
    assert "Ben Nghe" not in text


def test_a_stranger_asking_at_one_office_learns_nothing_of_another_office_s_dossier(
    ctx: Context,
) -> None:
    real, _short = register(ctx, 2, "da-kao")
    asked = ask(ctx, STRANGER, f"HS {real}", "a1")
    made_up = ask(ctx, STRANGER, f"HS {code(999)}", "a1")
    assert asked is not None
    assert made_up is not None
    # the same bytes as for a code that does not exist: signed by the office texted
    assert asked[0] == made_up[0]
    assert "Ben Nghe" in asked[0]
    assert "Da Kao" not in asked[0]


def test_a_shared_modem_s_sms_is_the_office_listing_its_number_else_the_default(
    ctx: Context,
) -> None:
    unknown = ask(ctx, OWNER, "HD", "s1")
    assert unknown is not None
    assert "Ben Nghe" not in unknown[0]
    assert "Da Kao" not in unknown[0]
    # The modem's owner read its SIM's own number (AT+CNUM) and published it with its health.
    ModemRegistry(ctx.redis).publish_health("s1", {"state": "up", "number": "+84922000002"})
    known = ask(ctx, OWNER, "HD", "s1")
    assert known is not None
    assert "UBND phuong Da Kao" in known[0]


def test_an_office_s_own_template_is_used_for_its_sms_and_the_province_s_for_the_others(
    ctx: Context,
) -> None:
    ctx.templates.save("reply_help", "{office}: HUONG DAN RIENG. Goi {hotline}", office="da-kao")
    own = ask(ctx, OWNER, "HD", "b1")
    other = ask(ctx, OWNER, "HD", "a1")
    assert own is not None
    assert other is not None
    assert own[0] == "UBND phuong Da Kao: HUONG DAN RIENG. Goi 028 2222 2222"
    assert "HUONG DAN RIENG" not in other[0]
    ctx.templates.reset("reply_help", "da-kao")
    back = ask(ctx, STRANGER, "HD", "b1")
    assert back is not None
    assert "HUONG DAN RIENG" not in back[0]


def test_limits_count_per_office_one_office_s_flood_does_not_silence_another(
    ctx: Context,
) -> None:
    for _ in range(2):
        assert ask(ctx, OWNER, "HD", "a1") is not None
    limited = ask(ctx, OWNER, "HD", "a1")  # the one notice of this hour at Ben Nghe
    assert limited is not None
    assert ask(ctx, OWNER, "HD", "a1") is None  # then silence there...
    at_da_kao = ask(ctx, OWNER, "HD", "b1")  # ...while Da Kao still answers
    assert at_da_kao is not None
    assert at_da_kao[0] != limited[0]


def test_an_office_s_own_daily_budget_stops_its_replies_only(ctx: Context) -> None:
    Offices.of(ctx.redis, ctx.sms).set(
        "ben-nghe", {"name": "UBND phường Bến Nghé", "reply_budget": 1}
    )
    assert ask(ctx, OWNER, "HD", "a1") is not None
    assert ask(ctx, STRANGER, "HD", "a1") is None  # Ben Nghe's one reply today is spent
    assert ask(ctx, STRANGER, "HD", "b1") is not None  # Da Kao's budget is [sms]'s


def test_a_notice_is_signed_by_the_dossier_s_office_and_routed_as_its_office_s(
    ctx: Context,
) -> None:
    register(ctx, 3, "da-kao")
    notifier = Notifier(ctx.redis, ctx.outbox, ctx.dossiers, ctx.sms, lambda: NOW)
    notifier.take_changes()
    later = NOW + timedelta(minutes=10)
    notifier = Notifier(ctx.redis, ctx.outbox, ctx.dossiers, ctx.sms, lambda: later)
    assert notifier.release_due() == 1
    sms = Outbox(ctx.redis).get("1")
    assert sms is not None
    assert "UBND phuong Da Kao" in sms.text
    assert sms.fields["office"] == "da-kao"
    assert sms.via == "@da-kao"  # its office's modems (none up: it waits there)


def test_an_office_s_own_routing_rule_is_taken_before_the_rule_for_any_office(
    redis_client: redis.Redis, ctx: Context
) -> None:
    rules = (
        RouteSettings("notification", ("modem:s1", "modems"), office="da-kao"),
        RouteSettings("notification", ("modems",), office="*"),
    )
    router = Router(redis_client, Settings(modems=MODEMS, routes=rules), cache_seconds=0.0)
    assert router.candidates("notice", "", "da-kao") == ["s1", "@da-kao", ""]
    assert router.candidates("notice", "", "ben-nghe") == ["@ben-nghe", ""]
    live = RouteRules(redis_client, rules)
    live.change("ben-nghe", "notification", "modem:b1", [])  # an operator's live rule
    assert router.candidates("notice", "", "ben-nghe") == ["b1"]
    assert router.candidates("notice", "", "main") == [""]


def test_a_dossier_no_desk_holds_is_at_the_one_stop_desk_of_its_office(ctx: Context) -> None:
    """Asked at its own office: its one-stop desk; asked at another: which office's."""
    _, own = register(ctx, 3, "ben-nghe")
    _, other = register(ctx, 4, "da-kao")
    here = ask(ctx, OWNER, f"HS {own}", "a1")
    there = ask(ctx, OWNER, f"HS {other}", "a1")
    assert here is not None
    assert there is not None
    assert ", tai Bo phan mot cua, hen" in here[0]
    assert ", tai Bo phan mot cua UBND phuong Da Kao, hen" in there[0]


def test_a_shipped_template_is_sent_with_its_office_s_name_first(ctx: Context) -> None:
    """No province edit of reply_list_empty / reply_bad_code: several offices sign them too."""
    nothing = ask(ctx, OWNER, "TRA", "b1")
    assert nothing is not None
    assert nothing[0] == (
        "UBND phuong Da Kao: So dien thoai nay khong co ho so nao dang cho ket qua."
        " Tra cuu: HS <ma ho so> <ma bi mat>."
    )
    typed = short_code(5)
    mistyped = typed[:-1] + ("2" if typed[-1] != "2" else "3")  # its check character wrong
    wrong = ask(ctx, STRANGER, f"HS {mistyped}", "a1")
    assert wrong is not None
    assert wrong[0].startswith("UBND phuong Ben Nghe: Ma ho so khong dung")


def test_only_an_office_beside_main_makes_a_province(redis_client: redis.Redis) -> None:
    offices = Offices.of(redis_client, SmsSettings())
    assert not offices.several()  # an installation that never saved an office
    offices.set("main", {"name": "UBND quận 1", "hotline": "028 1", "numbers": ["0900000001"]})
    assert not offices.several()  # its one office, named
    offices.set("ben-nghe", {"name": "UBND phường Bến Nghé", "hotline": "028 2", "numbers": []})
    assert offices.several()
    redis_client.hdel(keys.offices(), "main")
    assert offices.several()  # main (from the [sms] settings) and ben-nghe
