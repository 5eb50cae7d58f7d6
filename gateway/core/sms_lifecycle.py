"""The life of an outbound SMS (pure): what the outbox may do to it in each state, and what each
change makes of it.

An SMS is queued, claimed by one modem or carrier link, submitting while a part is being handed
over (its fate unknown after a crash), submitted once the network took every part, and delivered
or failed by the reports of its parts. `APPLIES_IN` says in which states each change is made; in
any other state the outbox leaves the SMS as it is (a late or repeated change, or one raced by a
report). `ALLOWED` is the graph those changes draw: a final state (delivered, failed) is never
left, so an SMS that failed is neither sent further nor sent again (a resend is a new SMS).

The outbox's Lua scripts are built from these tables (`gateway/store/outbox_scripts.py`), and a
property test drives the real outbox through random sequences of changes and checks every state
it stores against `apply` (tests/integration/test_outbox_states.py).

The policy of a refused part lives here too (`after_refusal`): how many tries, how long to wait,
and where the next try goes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from gateway.core.messages import RetryWhere, SmsState, retry_delay

S = SmsState


class SmsChange(StrEnum):
    """What the outbox does to an SMS; the attempt log names each one it records."""

    QUEUED = "queued"  # enqueued
    CLAIMED = "claimed"  # taken by a modem's owner or a carrier link
    REROUTED = "rerouted"  # moved to another route's queue (its route is down)
    RELEASED = "released"  # moved from a modem's own queue to the shared one
    SUBMITTING = "submitting"  # a part is about to be handed over
    SUBMITTED = "submitted"  # a part was taken by the network (its reference recorded)
    REFUSED = "refused"  # a part was refused: a retry, or the end
    GAVE_UP = "gave_up"  # the sender stopped (opted out, cannot be encoded)
    REQUEUED = "requeued"  # a dead owner's claim goes back to its queue
    FATE_UNKNOWN = "fate_unknown"  # a dead owner was handing a part over
    REPORTED = "reported"  # a final status report or receipt for a part


# The states each change is made in.
APPLIES_IN: dict[SmsChange, frozenset[SmsState]] = {
    SmsChange.QUEUED: frozenset(),  # a new SMS: it has no state yet
    SmsChange.CLAIMED: frozenset({S.QUEUED}),
    SmsChange.REROUTED: frozenset({S.QUEUED}),
    SmsChange.RELEASED: frozenset({S.QUEUED}),
    SmsChange.SUBMITTING: frozenset({S.CLAIMED, S.SUBMITTING}),
    # A part taken by the network is always recorded (its report must find it); the state moves
    # only from submitting.
    SmsChange.SUBMITTED: frozenset({S.SUBMITTING}),
    SmsChange.REFUSED: frozenset({S.CLAIMED, S.SUBMITTING}),
    SmsChange.GAVE_UP: frozenset({S.CLAIMED, S.SUBMITTING}),
    SmsChange.REQUEUED: frozenset({S.CLAIMED}),
    SmsChange.FATE_UNKNOWN: frozenset({S.SUBMITTING}),
    SmsChange.REPORTED: frozenset({S.QUEUED, S.CLAIMED, S.SUBMITTING, S.SUBMITTED}),
}

# Where an SMS may go from each state (staying is always allowed).
ALLOWED: dict[SmsState, frozenset[SmsState]] = {
    S.QUEUED: frozenset({S.CLAIMED, S.FAILED}),  # failed: a part sent by an earlier try failed
    S.CLAIMED: frozenset({S.SUBMITTING, S.QUEUED, S.FAILED}),
    S.SUBMITTING: frozenset({S.SUBMITTED, S.QUEUED, S.FAILED}),
    S.SUBMITTED: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
}
INITIAL = S.QUEUED
FINAL_STATES: frozenset[SmsState] = frozenset(s for s, nxt in ALLOWED.items() if not nxt)
# Where an SMS is kept while in each state: in a queue (or the delayed set, waiting for a retry),
# in the in-flight set of the modem or link that claimed it, or in neither.
QUEUED_STATES = frozenset({S.QUEUED})
IN_FLIGHT_STATES = frozenset({S.CLAIMED, S.SUBMITTING})


def can_move(current: SmsState, new: SmsState) -> bool:
    return new == current or new in ALLOWED[current]


def applies(change: SmsChange, state: SmsState) -> bool:
    return state in APPLIES_IN[change]


# -- what the state machine reads of an SMS, and the changes ---------------------------------


@dataclass(frozen=True, slots=True)
class SmsFacts:
    state: SmsState
    parts: int = 0  # 0 until the sender has split it
    next_part: int = 0  # parts before this one were taken by the network
    attempts: int = 0  # refused tries
    reports: tuple[SmsState | None, ...] = ()  # the final report of each part, if any


@dataclass(frozen=True, slots=True)
class Claimed:
    pass


@dataclass(frozen=True, slots=True)
class Planned:
    parts: int


@dataclass(frozen=True, slots=True)
class Submitting:
    part: int


@dataclass(frozen=True, slots=True)
class PartTaken:
    part: int


@dataclass(frozen=True, slots=True)
class Refused:
    where: RetryWhere


@dataclass(frozen=True, slots=True)
class GaveUp:
    pass


@dataclass(frozen=True, slots=True)
class Requeued:
    pass


@dataclass(frozen=True, slots=True)
class Reported:
    part: int
    delivered: bool
    final: bool  # False: the SMSC still tries (nothing is recorded)


SmsEvent = Claimed | Planned | Submitting | PartTaken | Refused | GaveUp | Requeued | Reported


def apply(sms: SmsFacts, event: SmsEvent) -> SmsFacts:
    """The SMS after `event`; unchanged where the event's change does not apply in its state."""
    state = sms.state
    match event:
        case Claimed() if applies(SmsChange.CLAIMED, state):
            return replace(sms, state=S.CLAIMED)
        case Planned(parts) if not sms.parts:
            return replace(sms, parts=parts)
        case Submitting(part) if applies(SmsChange.SUBMITTING, state):
            return replace(sms, state=S.SUBMITTING, next_part=part)
        case PartTaken(part):
            last = part + 1 >= max(sms.parts, 1)
            moved = S.SUBMITTED if last and applies(SmsChange.SUBMITTED, state) else state
            return replace(sms, state=moved, next_part=part + 1)
        case Refused(where) if applies(SmsChange.REFUSED, state):
            attempts = sms.attempts + 1
            retry = retry_delay(attempts, where) is not None
            return replace(sms, state=S.QUEUED if retry else S.FAILED, attempts=attempts)
        case GaveUp() if applies(SmsChange.GAVE_UP, state):
            return replace(sms, state=S.FAILED)
        case Requeued() if applies(SmsChange.REQUEUED, state):
            return replace(sms, state=S.QUEUED)
        case Reported(part, delivered, final) if applies(SmsChange.REPORTED, state):
            return after_report(sms, part, delivered, final)
    return sms


def after_report(sms: SmsFacts, part: int, delivered: bool, final: bool) -> SmsFacts:
    """A report on one part: a final one is recorded; one failed part fails the SMS, and every
    part delivered delivers a submitted one."""
    parts = max(sms.parts, 1)
    reports = list(sms.reports) + [None] * max(0, parts - len(sms.reports))
    if final:
        while len(reports) <= part:
            reports.append(None)
        reports[part] = S.DELIVERED if delivered else S.FAILED
    state = sms.state
    if S.FAILED in reports[:parts]:
        state = S.FAILED
    elif reports[:parts].count(S.DELIVERED) == parts and S.DELIVERED in ALLOWED[state]:
        state = S.DELIVERED
    return replace(sms, state=state, reports=tuple(reports))


# -- after a crash ------------------------------------------------------------------------


class Recovery(StrEnum):
    """What becomes of an SMS found in the in-flight set of a modem or link whose owner died."""

    REQUEUE = "requeue"  # claimed, nothing handed over yet: back to its queue
    IN_DOUBT = "in_doubt"  # a part was being handed over: its fate is unknown
    FORGET = "forget"  # nothing of it is in flight any more: it just leaves the set


def recovery(state: SmsState | None) -> Recovery:
    """`None`: the SMS is gone."""
    if state is not None and applies(SmsChange.FATE_UNKNOWN, state):
        return Recovery.IN_DOUBT
    if state is not None and applies(SmsChange.REQUEUED, state):
        return Recovery.REQUEUE
    return Recovery.FORGET


# -- a refused part: the next try ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NextTry:
    """Where and when a refused SMS is tried again; `delay` None: it has failed for good."""

    attempts: int
    delay: float | None  # seconds
    via: str  # the queue of the next try: a modem's own ("" the modems' shared queue)
    avoid: tuple[str, ...]  # modems that must not take it

    @property
    def state(self) -> SmsState:
        return S.FAILED if self.delay is None else S.QUEUED


def after_refusal(
    attempts: int, where: RetryWhere, *, modem: str, via: str, avoid: tuple[str, ...]
) -> NextTry:
    """The next try of an SMS whose part `modem` could not send after `attempts` refused tries:
    later through the same modem when the SMS is pinned to it (a reply leaves through the
    number the citizen wrote to), at once through another one when this modem cannot send it,
    or never (`retry_delay`)."""
    attempts += 1
    delay = retry_delay(attempts, where)
    if where is RetryWhere.ELSEWHERE:
        return NextTry(attempts, delay, "", (*avoid, modem) if modem else avoid)
    return NextTry(attempts, delay, modem if via == modem else "", avoid)
