"""Property tests: no sequence of actions moves an alarm backwards; history only grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import (
    SYSTEM,
    Actor,
    ActorKind,
    AlarmError,
    AlarmState,
    ContactResult,
    Detection,
    EscalationTarget,
    Explanation,
    Outcome,
    RuleKind,
    accept,
    add_note,
    attach,
    escalate,
    present,
    raise_alarm,
    reannounce,
    record_contact_attempt,
    resolve,
)

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ACTORS = [
    Actor(ActorKind.OPERATOR, "op-a"),
    Actor(ActorKind.OPERATOR, "op-b"),
    Actor(ActorKind.SUPERVISOR, "sup"),
    Actor(ActorKind.RESIDENT, "res-1"),
    SYSTEM,
]
RULES = [RuleKind.PANIC, RuleKind.FALL, RuleKind.INACTIVITY, RuleKind.SMOKE]


def _detection(rule: RuleKind) -> Detection:
    return Detection(
        rule=rule,
        home_id="h",
        resident_id="res-1",
        at=T0,
        explanation=Explanation.of("never"),
        event_ids=("e",),
    )


def _apply(alarm, step):
    kind, actor, dt, extra = step
    at = T0 + timedelta(seconds=dt)
    if kind == "present":
        return present(alarm, at)
    if kind == "accept":
        return accept(alarm, actor, at)
    if kind == "contact":
        return record_contact_attempt(
            alarm,
            actor,
            at,
            party="resident",
            result=list(ContactResult)[extra % len(ContactResult)],
        )
    if kind == "note":
        return add_note(alarm, actor, at, "note")
    if kind == "escalate":
        return escalate(alarm, actor, at, list(EscalationTarget)[extra % len(EscalationTarget)])
    if kind == "reannounce":
        return reannounce(alarm, at, to_supervisor=bool(extra % 2))
    if kind == "attach":
        return attach(alarm, _detection(RULES[extra % len(RULES)]), at)
    outcomes = [*list(Outcome), None, "nonsense"]
    return resolve(alarm, actor, at, outcomes[extra % len(outcomes)])


steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["present", "accept", "contact", "note", "escalate", "reannounce", "attach", "resolve"]
        ),
        st.sampled_from(ACTORS),
        st.integers(min_value=-5, max_value=3600),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(rule=st.sampled_from(RULES), actions=steps)
def test_no_sequence_moves_an_alarm_backwards(rule, actions) -> None:
    alarm = raise_alarm("a", _detection(rule))
    for step in actions:
        before = alarm
        try:
            alarm = _apply(alarm, step)
        except AlarmError:
            assert alarm is before  # a refusal changes nothing
            continue
        except ValueError:
            assert alarm is before
            continue
        # Never backwards, history append-only and ordered, outcome iff resolved.
        assert alarm.state.rank >= before.state.rank
        assert alarm.history[: len(before.history)] == before.history
        assert len(alarm.history) == len(before.history) + 1
        assert alarm.history[-1].at >= before.history[-1].at
        assert [e.seq for e in alarm.history] == list(range(len(alarm.history)))
        assert (alarm.state is AlarmState.RESOLVED) == (alarm.outcome is not None)
        assert alarm.priority <= before.priority
        if before.claimed_by is not None:
            assert alarm.claimed_by == before.claimed_by
        if not before.is_open:
            assert alarm.state is AlarmState.RESOLVED
            assert alarm.outcome == before.outcome
