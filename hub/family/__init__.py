"""The family and volunteer network (the Vincles layer): circles, groups, messages, agenda.

Pure rules live in :mod:`hub.family.linking` and :mod:`hub.family.consent`; the tables,
the API and the web pages build on them.
"""
