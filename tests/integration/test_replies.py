"""Answers to citizens' SMS through the real job, a real Redis and the real outbox: what each
kind of sender may learn, limits, opt-outs."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import redis

from config.settings import Settings, SmsSettings
from gateway.core.events import parse_status_changed
from gateway.store import keys
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.outbox import Outbox
from tests.factories import event_body, registration
from worker.context import Context, configure
from worker.jobs import answer_sms

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
OWNER = "+84901234567"
STRANGER = "+84987654321"
CANARY_NAME = "Canary Nguyễn Thị Hoa"
CANARY_NOTE = "CANARYNOTE thiếu bản sao CCCD"
_digests = itertools.count()


def make_context(redis_client: redis.Redis, **sms: object) -> Context:
    settings = Settings(sms=replace(SmsSettings(), **sms))  # type: ignore[arg-type]
    return configure(settings, redis_client, lambda: NOW)


@pytest.fixture
def ctx(redis_client: redis.Redis) -> Context:
    return make_context(redis_client)


@pytest.fixture
def dossier(ctx: Context) -> tuple[str, str, str]:
    store = ctx.dossiers
    d = store.register(
        registration(1, phones=["0901234567"], applicant_name=CANARY_NAME), "tuphap", NOW
    ).dossier
    event = parse_status_changed(
        event_body("e1", 5, minutes=60, desk="Phòng Tư pháp", note=CANARY_NOTE), "tuphap"
    )
    store.apply(d.code, event, "tuphap", NOW)
    return d.code, d.short_code, d.secret


def ask(ctx: Context, sender: str, text: str, modem: str = "m1") -> str | None:
    """A citizen's SMS in, the job run, the reply's text out (None: no reply)."""
    mid = Inbox(ctx.redis).take(InboundPart(modem, sender, text, NOW, f"pdu-{next(_digests)}"), NOW)
    assert mid is not None
    answer_sms(mid)
    sms_id = ctx.redis.get(keys.sms_dedupe(f"reply:{mid}"))
    if sms_id is None:
        return None
    sms = Outbox(ctx.redis).get(str(sms_id))
    assert sms is not None
    assert sms.via == modem  # the reply leaves through the number the citizen wrote to
    return sms.text


def test_the_registered_phone_gets_the_full_answer(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    code, _, _ = dossier
    reply = ask(ctx, OWNER, f"hs {code.lower()}")
    assert reply is not None
    assert code in reply
    assert "Yeu cau bo sung giay to" in reply  # the status, unaccented GSM-7
    assert "CANARYNOTE" in reply  # what is missing
    assert "Phong Tu phap" in reply
    assert "26/04/2024" in reply
    assert reply.isascii()


def test_anyone_with_the_right_secret_gets_the_full_answer(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    _, short, secret = dossier
    reply = ask(ctx, STRANGER, f"TRA {short} {secret.lower()}")
    assert reply is not None
    assert "Phong Tu phap" in reply


def test_wrong_secret_unknown_code_and_not_yours_read_the_same_when_configured(
    redis_client: redis.Redis,
) -> None:
    ctx = make_context(redis_client, stranger_reply="nothing")
    d = ctx.dossiers.register(registration(2, applicant_name=CANARY_NAME), "tuphap", NOW).dossier
    wrong_secret = ask(ctx, STRANGER, f"HS {d.code} 23456789")
    unknown = ask(ctx, STRANGER, "HS 000.00.20.H57-240423-9999")
    not_yours = ask(ctx, STRANGER, f"HS {d.code}")
    assert wrong_secret == unknown == not_yours
    assert wrong_secret is not None


def test_a_stranger_gets_the_status_word_alone_by_default(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    code, _, _ = dossier
    reply = ask(ctx, STRANGER, code)
    assert reply is not None
    assert "Yeu cau bo sung giay to" in reply
    assert "Phong Tu phap" not in reply
    assert "26/04/2024" not in reply
    assert ask(ctx, STRANGER, f"HS {code} ABCDEFGH") == ask(
        ctx, STRANGER, "HS 000.00.20.H57-240423-9998"
    )


@pytest.mark.parametrize("stranger_reply", ["status", "nothing"])
def test_no_personal_data_ever_reaches_a_stranger(
    redis_client: redis.Redis, stranger_reply: str
) -> None:
    ctx = make_context(redis_client, stranger_reply=stranger_reply, per_sender_per_hour=1000)
    d = ctx.dossiers.register(
        registration(3, phones=["0901234567", "0912345678"], applicant_name=CANARY_NAME),
        "tuphap",
        NOW,
    ).dossier
    ctx.dossiers.apply(
        d.code,
        parse_status_changed(event_body("e", 5, desk="Phòng Tư pháp", note=CANARY_NOTE), "tuphap"),
        "tuphap",
        NOW,
    )
    attempts = [
        d.code,
        f"HS {d.code}",
        f"TRA {d.short_code}",
        f"HS {d.code} WRONG234",
        f"DK {d.code}",
        "TRA",
        "HS",
        "?",
        "hello",
        f"HS {d.code} {d.secret[:4]}",
    ]
    for text in attempts:
        reply = ask(ctx, STRANGER, text) or ""
        for canary in (
            "Canary",
            "Hoa",
            "CANARYNOTE",
            "CCCD",
            d.secret,
            "1234567",
            "2345678",
            "Phong Tu phap",
            "26/04/2024",
        ):
            assert canary not in reply, (text, reply)


def test_tra_alone_lists_the_phones_open_dossiers(ctx: Context) -> None:
    a = ctx.dossiers.register(registration(4), "tuphap", NOW).dossier
    b = ctx.dossiers.register(registration(5), "tuphap", NOW).dossier
    done = ctx.dossiers.register(registration(6), "tuphap", NOW).dossier
    ctx.dossiers.apply(done.code, parse_status_changed(event_body("x", 9), "tuphap"), "tuphap", NOW)
    ctx.dossiers.apply(
        done.code, parse_status_changed(event_body("y", 10, minutes=70), "tuphap"), "tuphap", NOW
    )
    reply = ask(ctx, OWNER, "TRA")
    assert reply is not None
    assert a.short_code in reply
    assert b.short_code in reply
    assert done.short_code not in reply
    empty = ask(ctx, STRANGER, "tra cứu")
    assert empty is not None
    assert a.short_code not in empty


def test_huy_opts_out_at_once_and_dk_opts_back_in(ctx: Context) -> None:
    ask(ctx, OWNER, "HUY")
    assert ctx.opt_outs.is_out(OWNER)
    ask(ctx, OWNER, "DK")
    assert not ctx.opt_outs.is_out(OWNER)
    ask(ctx, OWNER, "Hủy nhận tin")
    assert ctx.opt_outs.is_out(OWNER)


def test_text_nobody_understands_gets_the_help_text_not_silence(ctx: Context) -> None:
    help_text = ask(ctx, OWNER, "HD")
    assert help_text is not None
    assert "HS" in help_text
    assert ask(ctx, OWNER, "alo alo co ai khong") == help_text
    assert ask(ctx, OWNER, "") == help_text


def test_a_sender_texting_a_thousand_codes_gets_at_most_the_limit_then_one_notice(
    ctx: Context,
) -> None:
    limit = ctx.sms.per_sender_per_hour
    replies = [ask(ctx, STRANGER, f"HS 000.00.20.H57-240423-{n:04d}") for n in range(1000)]
    sent = [r for r in replies if r is not None]
    assert len(sent) == limit + 1
    assert "1 gio" in sent[-1]  # the one notice: try again in an hour
    assert all(r is None for r in replies[limit + 1 :])


def test_the_office_daily_budget_stops_replies(redis_client: redis.Redis) -> None:
    ctx = make_context(redis_client, daily_reply_budget=3)
    replies = [ask(ctx, f"+8490100{n:04d}", "HD") for n in range(5)]
    assert [r is not None for r in replies] == [True, True, True, False, False]


def test_the_job_answers_once_however_often_it_runs(ctx: Context) -> None:
    mid = Inbox(ctx.redis).take(InboundPart("m2", OWNER, "HD", NOW, "once"), NOW)
    assert mid is not None
    assert answer_sms(mid) == "reply_help"
    assert answer_sms(mid) == "answered before"
    assert Outbox(ctx.redis).depth("m2") == 1


def test_alphanumeric_senders_get_no_reply(ctx: Context) -> None:
    assert ask(ctx, "VIETTEL", "Khuyen mai 50%") is None


def test_an_answer_takes_a_bounded_number_of_redis_commands(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    # A timing-free guard on the work per answer.
    code, _, _ = dossier
    before = ctx.redis.info("commandstats")
    ask(ctx, OWNER, f"HS {code}")
    after = ctx.redis.info("commandstats")
    calls = sum(v["calls"] for v in after.values()) - sum(v["calls"] for v in before.values())
    assert calls < 60, calls


def test_an_administrators_edit_of_a_template_is_used_at_once_and_can_be_undone(
    ctx: Context,
) -> None:
    from gateway.core.sms_text import TemplateError
    from gateway.store.templates import Templates

    templates = Templates(ctx.redis)
    default = ask(ctx, OWNER, "HD")
    templates.save("reply_help", "Soạn HS <mã hồ sơ> gửi {office}.")
    edited = ask(ctx, "+84900000001", "HD")
    assert edited == f"Soan HS <ma ho so> gui {ctx.sms.office}."
    with pytest.raises(TemplateError, match="unknown placeholder"):
        templates.save("reply_help", "Xin chào {name}")
    with pytest.raises(TemplateError, match="no such template"):
        templates.save("reply_nonexistent", "x")
    templates.reset("reply_help")
    assert ask(ctx, "+84900000002", "HD") == default
