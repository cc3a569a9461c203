"""The family and volunteer network (the Vincles layer): circles, groups, messages, agenda.

Pure rules live in :mod:`hub.family.consent` (the linking codes' in :mod:`hub.auth.codes`);
the tables, the API and the web pages build on them.
"""
