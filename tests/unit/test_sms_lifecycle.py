"""The life of an outbound SMS, pure: every change the core allows, and the next try's policy."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.messages import MAX_ATTEMPTS, RetryWhere, SmsState
from gateway.core.sms_lifecycle import (
    ALLOWED,
    APPLIES_IN,
    FINAL_STATES,
    Claimed,
    GaveUp,
    PartTaken,
    Planned,
    Recovery,
    Refused,
    Reported,
    Requeued,
    SmsChange,
    SmsEvent,
    SmsFacts,
    Submitting,
    after_refusal,
    apply,
    can_move,
    recovery,
)

S = SmsState

events: st.SearchStrategy[SmsEvent] = st.one_of(
    st.just(Claimed()),
    st.builds(Planned, st.integers(1, 3)),
    st.builds(Submitting, st.integers(0, 2)),
    st.builds(PartTaken, st.integers(0, 2)),
    st.builds(Refused, st.sampled_from(list(RetryWhere))),
    st.just(GaveUp()),
    st.just(Requeued()),
    st.builds(Reported, st.integers(0, 2), st.booleans(), st.booleans()),
)


def test_the_final_states_are_those_with_no_way_out() -> None:
    assert FINAL_STATES == {S.DELIVERED, S.FAILED}
    assert all(not APPLIES_IN[change] & FINAL_STATES for change in SmsChange)


@pytest.mark.parametrize("state", list(SmsState))
@given(event=events, attempts=st.integers(0, MAX_ATTEMPTS), parts=st.integers(0, 3))
def test_every_change_from_every_state_is_an_allowed_move(
    state: SmsState, event: SmsEvent, attempts: int, parts: int
) -> None:
    before = SmsFacts(state, parts=parts, attempts=attempts)
    after = apply(before, event)
    assert can_move(state, after.state), (state, event, after.state)
    if state in FINAL_STATES:
        assert after.state is state


@given(st.lists(events, max_size=40))
def test_a_sequence_of_changes_never_leaves_the_graph_nor_a_final_state(
    sequence: list[SmsEvent],
) -> None:
    sms = SmsFacts(S.QUEUED)
    for event in sequence:
        after = apply(sms, event)
        assert after.state in ALLOWED[sms.state] or after.state is sms.state
        sms = after


def test_the_happy_path_of_a_two_part_sms() -> None:
    sms = SmsFacts(S.QUEUED)
    steps: list[tuple[SmsEvent, SmsState]] = [
        (Claimed(), S.CLAIMED),
        (Planned(2), S.CLAIMED),
        (Submitting(0), S.SUBMITTING),
        (PartTaken(0), S.SUBMITTING),
        (Submitting(1), S.SUBMITTING),
        (PartTaken(1), S.SUBMITTED),
        (Reported(0, True, True), S.SUBMITTED),
        (Reported(1, True, False), S.SUBMITTED),  # the SMSC still tries: nothing recorded
        (Reported(1, True, True), S.DELIVERED),
    ]
    for event, state in steps:
        sms = apply(sms, event)
        assert sms.state is state, event
    assert (sms.parts, sms.next_part, sms.reports) == (2, 2, (S.DELIVERED, S.DELIVERED))


def test_one_failed_part_fails_the_sms_even_before_its_other_parts_went_out() -> None:
    sms = SmsFacts(S.SUBMITTING, parts=2, next_part=1)
    failed = apply(sms, Reported(0, False, True))
    assert failed.state is S.FAILED
    assert apply(failed, Submitting(1)) == failed  # nothing more of it goes out
    assert apply(failed, PartTaken(1)).state is S.FAILED


def test_every_part_delivered_delivers_only_a_submitted_sms() -> None:
    sms = SmsFacts(S.SUBMITTING, parts=1, reports=(S.DELIVERED,))
    assert apply(sms, Reported(0, True, True)).state is S.SUBMITTING
    assert apply(apply(sms, PartTaken(0)), Reported(0, True, True)).state is S.DELIVERED


def test_a_refused_part_retries_until_the_attempts_run_out() -> None:
    sms = SmsFacts(S.SUBMITTING, attempts=MAX_ATTEMPTS - 2)
    again = apply(sms, Refused(RetryWhere.HERE))
    assert (again.state, again.attempts) == (S.QUEUED, MAX_ATTEMPTS - 1)
    last = apply(apply(again, Claimed()), Refused(RetryWhere.HERE))
    assert (last.state, last.attempts) == (S.FAILED, MAX_ATTEMPTS)
    assert apply(sms, Refused(RetryWhere.NEVER)).state is S.FAILED


def test_a_retry_here_stays_with_the_modem_a_reply_is_pinned_to() -> None:
    pinned = after_refusal(0, RetryWhere.HERE, modem="m1", via="m1", avoid=())
    assert (pinned.via, pinned.delay, pinned.attempts, pinned.state) == ("m1", 5.0, 1, S.QUEUED)
    shared = after_refusal(1, RetryWhere.HERE, modem="m1", via="", avoid=())
    assert (shared.via, shared.delay) == ("", 10.0)


def test_a_retry_elsewhere_goes_at_once_to_the_shared_queue_avoiding_the_modem() -> None:
    nxt = after_refusal(0, RetryWhere.ELSEWHERE, modem="m2", via="m2", avoid=("m1",))
    assert (nxt.via, nxt.delay, nxt.avoid) == ("", 0.0, ("m1", "m2"))


def test_a_refusal_that_no_retry_can_help_fails_the_sms() -> None:
    nxt = after_refusal(0, RetryWhere.NEVER, modem="m1", via="", avoid=())
    assert (nxt.delay, nxt.state) == (None, S.FAILED)
    spent = after_refusal(MAX_ATTEMPTS - 1, RetryWhere.HERE, modem="m1", via="", avoid=())
    assert spent.delay is None


def test_after_a_crash_claims_go_back_parts_in_flight_are_in_doubt_the_rest_is_forgotten() -> None:
    assert recovery(S.CLAIMED) is Recovery.REQUEUE
    assert recovery(S.SUBMITTING) is Recovery.IN_DOUBT
    for state in (S.QUEUED, S.SUBMITTED, S.DELIVERED, S.FAILED, None):
        assert recovery(state) is Recovery.FORGET


def test_the_graph_is_what_the_changes_draw() -> None:
    """Every move the graph allows is made by some change from some state (no dead edges)."""
    drawn = set()
    samples: list[SmsEvent] = [
        Claimed(),
        Submitting(0),
        PartTaken(0),
        GaveUp(),
        Requeued(),
        Reported(0, True, True),
        Reported(0, False, True),
        *(Refused(w) for w in RetryWhere),
    ]
    for state, event in itertools.product(SmsState, samples):
        after = apply(SmsFacts(state, parts=1), event).state
        if after is not state:
            drawn.add((state, after))
    assert drawn == {(s, t) for s, targets in ALLOWED.items() for t in targets}
