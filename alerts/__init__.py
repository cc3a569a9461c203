"""Alerts: pure detection rules, the alarm state machine, escalation and channels."""
