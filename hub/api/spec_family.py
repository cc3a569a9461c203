"""Operations of the family network API (``/api/family``): circles, tablets, conversations,
media, calls, agenda, groups, alarm notices, activity and today.

Every family route is ``@family_api``: a signed-in person or a resident's tablet token; what
each may see is decided inside (circle membership and consent: 403 ``forbidden`` or
``consent_required``). Bodies are :mod:`hub.family.bodies`; answers are checked against these
schemas by ``tests/hub/api/test_openapi_answers.py``.
"""

from __future__ import annotations

from hub.api.described import INT, STR, TIME, Op, Schema, array, enum, nullable, obj

SCOPES = array(enum("alarms", "activity", "agenda"))
PARTY = obj(("party", "name"), party=STR, name=STR)

COMPONENTS: dict[str, Schema] = {
    "Party": PARTY,
    "CircleLink": obj(
        ("link_id", "resident_id", "member", "relationship", "consent", "created_at"),
        link_id=INT,
        resident_id=INT,
        member=PARTY,
        relationship=STR,
        consent=SCOPES,
        created_at=nullable(TIME),
        conversation_id=INT,
    ),
    "LinkCode": obj(("code", "expires_at", "consent"), code=STR, expires_at=TIME, consent=SCOPES),
}

OPERATIONS: dict[tuple[str, str], Op] = {}
