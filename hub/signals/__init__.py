"""The weekly risk-signals job: gather a resident's week, assess it against their own
baseline and write the signals into the wSocial outbox (ADR 0062, 0064).

It reads alarms, services and the family context and writes to :mod:`hub.outbox`, which is
only the store every producer writes to. ``teleassist hub weekly-signals`` runs a week by hand.
"""
