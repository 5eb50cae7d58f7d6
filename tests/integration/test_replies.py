"""Answers to citizens' SMS through the real job, a real Redis and the real outbox: what each
kind of sender may learn, limits, opt-outs."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

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
from worker.notifier import Notifier

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
    n = next(_digests)  # each SMS its own: the same text again is a new message, not a repeat
    part = InboundPart(modem, sender, text, NOW + timedelta(seconds=n), f"pdu-{n}")
    mid = Inbox(ctx.redis).take(part, NOW)
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
    assert reply == (
        f"Ho so {code}: Yeu cau bo sung giay to. Can bo sung: CANARYNOTE thieu ban sao CCCD. "
        "Nop tai: Phong Tu phap. Hen tra: 26/04/2024."
    )


def test_anyone_with_the_right_secret_gets_the_full_answer(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    code, short, secret = dossier
    reply = ask(ctx, STRANGER, f"TRA {short} {secret.lower()}")
    assert reply == ask(ctx, OWNER, f"HS {code}")
    assert reply is not None
    assert "Phong Tu phap" in reply


UNKNOWN_REPLY = (
    "Khong tra cuu duoc ho so. Vui long kiem tra ma ho so va gui kem ma bi mat in tren "
    "giay bien nhan: HS <ma ho so> <ma bi mat>."
)
BAD_CODE_REPLY = "Ma ho so khong dung, kiem tra lai tren giay bien nhan. Soan HD de xem huong dan."


def test_a_stranger_gets_exactly_the_reply_to_an_unknown_code(
    ctx: Context, dossier: tuple[str, str, str]
) -> None:
    code, short, _ = dossier
    unknown = ask(ctx, STRANGER, "HS 000.00.20.H57-240423-9999")
    assert unknown == UNKNOWN_REPLY
    for text in (code, f"HS {code}", f"TRA {short}", short, f"HS {code} 23456789"):
        assert ask(ctx, STRANGER, text) == unknown, text


def test_a_mistyped_code_says_so_whoever_asks(ctx: Context, dossier: tuple[str, str, str]) -> None:
    code, short, _ = dossier
    wrong_check = short[:-1] + ("0" if short[-1] != "0" else "1")
    letter_in_sequence = code[:-1] + "A"
    for sender in (OWNER, STRANGER):
        for typo in (wrong_check, f"HS {wrong_check}", f"HS {letter_in_sequence}", "PAZCGM7"):
            assert ask(ctx, sender, typo) == BAD_CODE_REPLY, (sender, typo)


def test_no_personal_data_ever_reaches_a_stranger(redis_client: redis.Redis) -> None:
    ctx = make_context(redis_client, per_sender_per_hour=1000)
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
            d.short_code,
            d.code,
            "1234567",
            "2345678",
            "Phong Tu phap",
            "Yeu cau bo sung",
            "26/04/2024",
        ):
            assert canary not in reply, (text, reply)


def test_tra_alone_lists_the_phones_dossiers_until_they_are_returned(ctx: Context) -> None:
    a = ctx.dossiers.register(registration(4), "tuphap", NOW).dossier
    ready = ctx.dossiers.register(registration(5), "tuphap", NOW).dossier
    ctx.dossiers.apply(
        ready.code, parse_status_changed(event_body("x", 9), "tuphap"), "tuphap", NOW
    )
    done = ctx.dossiers.register(registration(6), "tuphap", NOW).dossier
    ctx.dossiers.apply(done.code, parse_status_changed(event_body("x", 9), "tuphap"), "tuphap", NOW)
    ctx.dossiers.apply(
        done.code, parse_status_changed(event_body("y", 10, minutes=70), "tuphap"), "tuphap", NOW
    )
    listed = sorted(
        [(a.code, a.short_code, "Duoc tiep nhan"), (ready.code, ready.short_code, "Da xu ly xong")]
    )
    shown = "; ".join(f"{short} ({label})" for _, short, label in listed)
    assert ask(ctx, OWNER, "TRA") == f"Ho so cua ban: {shown}. Xem chi tiet: HS <ma ho so>."
    assert done.short_code not in shown
    empty = ask(ctx, STRANGER, "tra cứu")
    assert empty == (
        "So dien thoai nay khong co ho so nao dang cho ket qua. Tra cuu: HS <ma ho so> <ma bi mat>."
    )


def test_more_than_five_dossiers_are_counted_not_listed(ctx: Context) -> None:
    for n in range(20, 27):
        ctx.dossiers.register(registration(n), "tuphap", NOW)
    reply = ask(ctx, OWNER, "TRA")
    assert reply is not None
    assert reply.count("(Duoc tiep nhan)") == 5
    assert reply.endswith("; va 2 ho so khac. Xem chi tiet: HS <ma ho so>.")


def test_a_ready_result_says_where_and_since_when(ctx: Context) -> None:
    d = ctx.dossiers.register(registration(7), "tuphap", NOW).dossier
    for event in (
        event_body("a", 4, minutes=60, desk="Phòng Tư pháp"),
        event_body("b", 9, minutes=24 * 60 + 7 * 60, desk="Bộ phận trả kết quả"),  # 24/04 15:30
        event_body("c", 9, minutes=24 * 60 + 8 * 60, desk="Quầy số 3"),  # moved, still ready
    ):
        ctx.dossiers.apply(d.code, parse_status_changed(event, "tuphap"), "tuphap", NOW)
    assert ask(ctx, OWNER, f"HS {d.short_code}") == (
        f"Ho so {d.code}: Da xu ly xong. Moi nhan ket qua tai Quay so 3 tu 24/04/2024 15:30, "
        "nho mang giay bien nhan."
    )
    ctx.dossiers.apply(
        d.code,
        parse_status_changed(event_body("d", 10, minutes=3 * 24 * 60), "tuphap"),
        "tuphap",
        NOW,
    )
    assert ask(ctx, OWNER, f"HS {d.short_code}") == (
        f"Ho so {d.code}: Da tra ket qua (tu 26/04/2024 08:30)."
    )


def test_a_dossier_in_progress_reads_its_desk_and_appointment(ctx: Context) -> None:
    d = ctx.dossiers.register(registration(8), "tuphap", NOW).dossier
    assert ask(ctx, OWNER, d.code) == (
        f"Ho so {d.code}: Duoc tiep nhan. Dang o: Bo phan mot cua. Hen tra: 26/04/2024."
    )


def test_huy_opts_out_at_once_and_dk_opts_back_in(ctx: Context) -> None:
    assert ask(ctx, OWNER, "HUY") == "Ban da ngung nhan tin nhan ve ho so. De nhan lai, soan DK."
    assert ctx.opt_outs.is_out(OWNER)
    assert ask(ctx, OWNER, "DK") == (
        "Ban se nhan tin nhan khi ho so co thay doi. De ngung nhan, soan HUY."
    )
    assert not ctx.opt_outs.is_out(OWNER)
    ask(ctx, OWNER, "Hủy nhận tin")
    assert ctx.opt_outs.is_out(OWNER)


def test_opting_out_while_rate_limited_is_applied_and_confirmed(ctx: Context) -> None:
    limit = ctx.sms.per_sender_per_hour
    for n in range(limit + 3):
        ask(ctx, STRANGER, f"HS 000.00.20.H57-240423-{n:04d}")
    assert ask(ctx, STRANGER, "HD") is None  # over the limit: lookups and help are not answered
    for command, confirmation, out in (
        ("STOP", "Ban da ngung nhan tin nhan ve ho so. De nhan lai, soan DK.", True),
        ("DK", "Ban se nhan tin nhan khi ho so co thay doi. De ngung nhan, soan HUY.", False),
        ("TD", "Ban da ngung nhan tin nhan ve ho so. De nhan lai, soan DK.", True),
    ):
        assert ask(ctx, STRANGER, command) == confirmation
        assert ctx.opt_outs.is_out(STRANGER) is out


def test_confirmations_of_huy_and_dk_have_their_own_limit(ctx: Context) -> None:
    # Our confirmations say "soan DK" / "soan HUY": an auto-responder echoing them must not loop
    # with us until the office's budget is gone.
    limit = ctx.sms.per_sender_per_hour
    echoes = [ask(ctx, STRANGER, "soan DK" if n % 2 else "soan HUY") for n in range(3 * limit)]
    assert sum(r is not None for r in echoes) == limit
    assert all(r is None for r in echoes[limit:])
    assert ctx.opt_outs.is_out(STRANGER) is False  # still applied: the last one was DK


def test_confirmations_stay_within_the_daily_budget(redis_client: redis.Redis) -> None:
    ctx = make_context(redis_client, daily_reply_budget=2)
    assert ask(ctx, "+84901000001", "HD") is not None
    assert ask(ctx, "+84901000002", "HUY") is not None
    assert ask(ctx, "+84901000003", "HUY") is None  # the budget is spent
    assert ctx.opt_outs.is_out("+84901000003")  # applied all the same


def test_text_nobody_understands_gets_the_help_text_not_silence(ctx: Context) -> None:
    help_text = ask(ctx, OWNER, "HD")
    assert help_text is not None
    assert "HS" in help_text
    assert ask(ctx, OWNER, "alo alo co ai khong") == help_text
    assert ask(ctx, OWNER, "") == help_text


@pytest.mark.slow
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
    assert edited == "Soan HS <ma ho so> gui Bo phan mot cua."  # the office, unaccented
    with pytest.raises(TemplateError, match="unknown placeholder"):
        templates.save("reply_help", "Xin chào {name}")
    with pytest.raises(TemplateError, match="no such template"):
        templates.save("reply_nonexistent", "x")
    templates.reset("reply_help")
    assert ask(ctx, "+84900000002", "HD") == default


def test_the_sms_telling_a_citizen_their_code_leaves_from_the_modem_they_last_wrote_to(
    ctx: Context,
) -> None:
    ask(ctx, OWNER, "HD", modem="m1")
    ask(ctx, OWNER, "HD", modem="m2")  # the latest: m2
    settings = replace(ctx.sms, coalesce_seconds=0)
    notifier = Notifier(ctx.redis, ctx.outbox, ctx.dossiers, settings, ctx.clock)
    d = ctx.dossiers.register(
        registration(30, phones=["0901234567", "0912345678"]), "tuphap", NOW
    ).dossier
    assert notifier.take_changes() == 1
    assert notifier.release_due() == 2
    sent = {}
    for phone in ("+84901234567", "+84912345678"):
        queued = [ctx.outbox.get(str(i)) for i in ctx.redis.zrange(keys.sms_by_phone(phone), 0, -1)]
        [notice] = [sms for sms in queued if sms is not None and sms.fields["kind"] == "notice"]
        assert d.short_code in notice.text
        sent[phone] = notice.via
    assert sent == {"+84901234567": "m2", "+84912345678": ""}  # never wrote: the usual routing
