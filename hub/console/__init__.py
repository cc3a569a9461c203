"""The operator console: alarm queue, resident card, handling, technical alarms,
wellbeing calls, supervisor figures, and user administration (served by the hub).

Its wiring is :mod:`hub.console.app`; the feature modules hold handlers only."""
