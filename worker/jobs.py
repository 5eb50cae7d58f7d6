"""RQ jobs: thin — load, call the core, save. Every job is idempotent: RQ runs a job again when
its worker died, and a retry may follow a failure half-way."""

from __future__ import annotations

import logging

from gateway.core.messages import Priority
from gateway.core.office_routes import signature, signed, signing_office
from gateway.core.offices import Office
from gateway.core.phones import carrier_of, mask_phone
from gateway.core.replies import DEFAULT_DESK, Asked, Reply, decide, is_preference, status_since
from gateway.core.sms_syntax import Command, ListMine, Lookup, OptIn, OptOut, parse
from gateway.core.sms_text import fill, render
from gateway.core.times import to_micros
from gateway.store import metrics
from gateway.store.errors import UnknownDossier
from worker.context import Context, context
from worker.reply_limits import Allowance

log = logging.getLogger(__name__)


def answer_sms(message_id: str) -> str:
    """Answers one inbound SMS (queued by the modem service). Returns what it did."""
    ctx = context()
    done = _answer(ctx, message_id)
    ctx.inbox.answered(message_id)  # not after a failure: RQ retries, the inbox re-hands it
    return done


def _answer(ctx: Context, message_id: str) -> str:
    message = ctx.inbox.get(message_id)
    if message is None:
        return "gone"
    dedupe = f"reply:{message_id}"
    if ctx.sms_records.queued_under(dedupe):
        return "answered before"
    sender = message.sender
    if not sender.startswith("+"):
        log.info("sms.not_answered id=%s reason=alphanumeric-sender", message_id)
        return "not a phone"
    ctx.sender_modems.wrote_to(sender, message.modem)
    receiving = ctx.offices.get(ctx.modem_offices.office_of(message.modem))
    command = parse(message.text)
    apply_preferences(ctx, command, sender)  # whatever the limits: HUY always stops messages
    now = ctx.clock()
    allow = ctx.limits.allow_preference if is_preference(command) else ctx.limits.allow
    allowance = allow(sender, now, receiving.id, receiving.reply_budget)
    if allowance is Allowance.SILENCE:
        log.info(
            "sms.not_answered id=%s from=%s office=%s reason=limit",
            message_id,
            mask_phone(sender),
            receiving.id,
        )
        return "silence"
    asked = Asked() if allowance is Allowance.NOTICE else look_up(ctx, command, sender)
    # About a dossier the sender may see: signed by its office (the place the reply names when
    # no desk holds it); anything else (an unknown code, a stranger, help, a list): by the
    # office the citizen wrote to.
    its_office = ctx.offices.find(asked.dossier.office) if asked.dossier is not None else None
    # A dossier no desk holds is at its office's one-stop desk: named with its office when the
    # citizen texted another office, who would not know which one-stop desk otherwise.
    desk = DEFAULT_DESK
    if its_office is not None and its_office.id != receiving.id:
        desk = f"{DEFAULT_DESK} {its_office.name}"
    reply = (
        Reply("reply_rate_limited")
        if allowance is Allowance.NOTICE
        else decide(command, sender, asked, desk)
    )
    about = its_office.id if reply.dossier and its_office is not None else None
    signer = ctx.offices.find(signing_office(receiving.id, about)) or receiving
    text = compose(ctx, reply, signer)
    ctx.outbox.enqueue(
        sender,
        text,
        Priority.REPLY,
        to_micros(now) // 1000,
        via=message.modem,  # the number the citizen wrote to
        carrier=carrier_of(sender) or "",
        kind=reply.template,
        dossier=reply.dossier,
        dedupe_key=dedupe,
        office=receiving.id,  # it leaves by the receiving office's routes: the number written to
    )
    metrics.reply_sent(ctx.redis, reply.template)
    log.info(
        "sms.answered id=%s from=%s command=%s reply=%s office=%s signed=%s",
        message_id,
        mask_phone(sender),
        command.kind,
        reply.template,
        receiving.id,
        signer.id,
    )
    return reply.template


def apply_preferences(ctx: Context, command: Command, sender: str) -> None:
    if isinstance(command, OptOut):
        ctx.opt_outs.opt_out(sender)
    elif isinstance(command, OptIn):
        ctx.opt_outs.opt_in(sender)


def look_up(ctx: Context, command: Command, sender: str) -> Asked:
    if isinstance(command, Lookup):
        code = ctx.dossiers.find(command.code_text)
        if code is None:
            return Asked()
        try:
            dossier, history = ctx.dossiers.get_with_history(code)
        except UnknownDossier:
            return Asked()
        current = [e for e in history if e.get("current", True)]
        note = current[-1].get("note") if current else None
        return Asked(dossier=dossier, note=note, since=status_since(history, dossier.status))
    if isinstance(command, ListMine):
        own = []
        for code in sorted(ctx.dossiers.codes_of_phone(sender)):
            try:
                own.append(ctx.dossiers.get(code))
            except UnknownDossier:
                continue
        return Asked(own=tuple(own))
    return Asked()


def compose(ctx: Context, reply: Reply, office: Office) -> str:
    """The reply's text in `office`'s words: its template (its override, else the province's)
    and its signature (in a province, every reply names its office: `signed`)."""
    values = signature(office, ctx.sms.accented_if_free) | reply.values
    template = signed(ctx.templates.get(reply.template, office.id), ctx.offices.several())
    used = {k: v for k, v in values.items() if k in template.placeholders}
    return render(fill(template, used), ctx.sms.accented_if_free).text
