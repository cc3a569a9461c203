"""One valid social event of every kind, shared by the wSocial tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from integrations.wsocial.events import (
    ActivitySummary,
    AlarmHandled,
    AnySocialEvent,
    CheckInSummary,
    DeviceEvent,
    Escalation112,
    MissedCheckIns,
    RiskFlag,
    RiskSignal,
    ServiceEvent,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 2)


def sample_events(resident: str = "res-1") -> list[AnySocialEvent]:
    """Every event kind once (the service three times: started, suspended, ended)."""
    return [
        ServiceEvent(
            resident_id=resident,
            occurred_at=T0,
            service_id=f"svc-{resident}",
            status="active",
            started_at=T0,
            care_level="medium",
        ),
        ServiceEvent(
            resident_id=resident,
            occurred_at=T0 + timedelta(days=10),
            service_id=f"svc-{resident}",
            status="suspended",
            started_at=T0,
            suspension_reason="hospital_stay",
            resume_on=date(2026, 12, 1),
        ),
        ServiceEvent(
            resident_id=resident,
            occurred_at=T0 + timedelta(days=40),
            service_id=f"svc-{resident}",
            status="ended",
            started_at=T0,
            ended_at=T0 + timedelta(days=40),
            discharge_reason="deceased",
        ),
        AlarmHandled(
            resident_id=resident,
            occurred_at=T0 + timedelta(hours=1),
            alarm_id=f"alarm-{resident}-1",
            alarm_kind="fall",
            raised_at=T0,
            answered_at=T0 + timedelta(seconds=25),
            closed_at=T0 + timedelta(hours=1),
            outcome="emergency_services",
        ),
        Escalation112(
            resident_id=resident,
            occurred_at=T0 + timedelta(minutes=3),
            alarm_id=f"alarm-{resident}-1",
            alarm_kind="fall",
            escalated_at=T0 + timedelta(minutes=3),
            incident_ref="112-0001",
        ),
        MissedCheckIns(
            resident_id=resident,
            occurred_at=T0 + timedelta(days=3),
            window_start=T0,
            window_end=T0 + timedelta(days=3),
            missed=3,
            expected=3,
        ),
        CheckInSummary(resident_id=resident, occurred_at=T0, week_start=MONDAY, expected=7, done=5),
        ActivitySummary(
            resident_id=resident,
            occurred_at=T0,
            week_start=MONDAY,
            active_hours_per_day=6.5,
            night_events_per_night=1.5,
            alarms=1,
        ),
        RiskSignal(
            resident_id=resident,
            occurred_at=T0,
            week_start=MONDAY,
            risk="social_isolation",
            score=0.8,
            raised=True,
            domains=("social_network", "community_participation"),
            explanation={"ca": "Menys contacte.", "es": "Menos contacto.", "en": "Less contact."},
        ),
        RiskFlag(resident_id=resident, occurred_at=T0, risk="lives_alone", active=True, since=T0),
        RiskFlag(
            resident_id=resident,
            occurred_at=T0,
            risk="at_risk_for_falls",
            active=True,
            since=T0,
        ),
        DeviceEvent(
            resident_id=resident,
            occurred_at=T0,
            device_id=f"pendant-{resident}",
            device_kind="pendant",
            installed_at=T0,
        ),
        DeviceEvent(
            resident_id=resident,
            occurred_at=T0 + timedelta(days=41),
            device_id=f"pendant-{resident}",
            device_kind="pendant",
            installed_at=T0,
            removed_at=T0 + timedelta(days=41),
        ),
    ]
