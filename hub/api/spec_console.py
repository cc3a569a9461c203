"""Operations of the console, user administration, carephones, wSocial outbox and tablet pairing.

Bodies are the structs the handlers check (:mod:`hub.console.bodies` and others); answers are
the JSON the handlers build, checked against these schemas by
``tests/hub/api/test_openapi_answers.py`` on a running hub.
"""

from __future__ import annotations

import msgspec

from hub.api.described import (
    BOOL,
    DATE,
    ID32,
    INT,
    NUM,
    STR,
    TIME,
    Op,
    Schema,
    array,
    enum,
    nullable,
    obj,
    query,
    ref,
)
from hub.api.views import StoredEventPage
from hub.carephones.bodies import CarephoneCreate
from hub.console.bodies import (
    CallOutcome,
    CallPlanBody,
    CallPlanned,
    CampaignCreate,
    CampaignPreview,
    DialRequest,
    HealthBody,
    KeySafeReveal,
    LanguageBody,
    MediaOffer,
    ProtocolEdit,
    ProtocolStep,
    TabletMessage,
    TicketStep,
    UserChange,
    UserCreate,
)
from hub.http import DEVICE_ID as DEVICE_ID_PATTERN
from hub.registry.bodies import PairBody
from protocol.i18n import LANGUAGES
from protocol.messages import Token

ROLE = enum(
    "operator",
    "supervisor",
    "social_worker",
    "admin",
    "family",
    "facilitator",
    "installer",
    "coordinator",
)
LANGUAGE = enum(*LANGUAGES)
_PROGRESS = (
    *("total", "pending", "retrying", "done", "no_answer", "not_called"),
    *("reached_fine", "reached_follow_up", "declined", "other"),
)

_SHARE = nullable(NUM)  # a share of 0..1; null when there is nothing to count
_SECONDS = nullable(NUM)
_COUNTS = ("alarms", "care_alarms", "technical_alarms", "open", "care_open", "speech_unit_alarms",
           "accepted_within_60s_n", "accepted_within_180s_n", "answered_within_60s_n",
           "answered_within_180s_n")  # fmt: skip
_SHARES = ("accepted_within_60s", "accepted_within_180s", "answered_within_60s",
           "answered_within_180s")  # fmt: skip
_TIMES = ("median_accept_s", "p95_accept_s", "median_voice_s", "p95_voice_s",
          "median_resolve_s", "p95_resolve_s")  # fmt: skip

COMPONENTS: dict[str, Schema] = {
    "ServiceFigures": obj(
        ("from", "to", *_COUNTS, *_SHARES, *_TIMES, "by_operator", "by_rule", "by_outcome"),
        **{"from": DATE, "to": DATE},
        **dict.fromkeys((*_COUNTS, "voice_contacts"), INT),
        **dict.fromkeys(_SHARES, _SHARE),
        **dict.fromkeys(_TIMES, _SECONDS),
        target_60s=NUM,
        target_180s=NUM,
        by_operator=array(
            obj(
                ("operator", "accepted", "resolved", "median_accept_s"),
                operator=STR,
                accepted=INT,
                resolved=INT,
                median_accept_s=_SECONDS,
            )
        ),
        by_rule=array(
            obj(
                ("rule", "category", "count"),
                rule=STR,
                category=enum("care", "technical"),
                count=INT,
            )
        ),
        by_outcome=array(
            obj(
                ("outcome", "count", "care", "technical"),
                outcome=STR,
                count=INT,
                care=INT,
                technical=INT,
            )
        ),
    ),
    "AdminUser": obj(
        ("id", "username", "display_name", "role", "language", "active", "created_at"),
        id=INT,
        username=STR,
        display_name=STR,
        role=ROLE,
        language=LANGUAGE,
        active=BOOL,
        created_at=TIME,
    ),
    "WellbeingCall": obj(
        ("id", "resident_id", "resident_name", "reason", "due_at", "notes", "done_at"),
        id=INT,
        resident_id=INT,
        resident_name=STR,
        reason=enum("after_discharge", "other", "birthday", "weekly", "care_plan", "campaign"),
        due_at=TIME,
        notes=STR,
        done_at=nullable(TIME),
        done_by=nullable(STR),
        outcome=nullable(STR),
        outcome_notes=nullable(STR),
        priority=INT,
        attempts=INT,
        assigned_to=nullable(STR),
        campaign_id=nullable(INT),
        campaign_name=nullable(STR),
        campaign_script=nullable(STR),
        # When an open call falls overdue (a campaign's: the end of its calling day, not its
        # start) and whether it is, at the hub's clock.
        due_by=TIME,
        overdue=BOOL,
    ),
    "Campaign": obj(
        (
            *("id", "name", "script", "filters", "priority", "starts_at"),
            *("created_by", "created_at", "closed_at", "closed_by", "progress"),
        ),
        id=INT,
        name=STR,
        script=STR,
        filters={"type": "object"},
        priority=enum("high", "normal", "low"),
        starts_at=TIME,
        created_by=STR,
        created_at=TIME,
        closed_at=nullable(TIME),
        closed_by=nullable(STR),
        progress=obj(_PROGRESS, **dict.fromkeys(_PROGRESS, INT)),
        left_out=array(INT),
        operators=array(
            obj(
                ("operator", "assigned", "done", "no_answer", "pending"),
                operator=nullable(STR),
                assigned=INT,
                done=INT,
                no_answer=INT,
                pending=INT,
            )
        ),
        calls=array(
            obj(
                (
                    *("id", "resident_id", "resident_name", "assigned_to", "attempts"),
                    *("due_at", "outcome", "done_by", "done_at"),
                ),
                id=INT,
                resident_id=INT,
                resident_name=STR,
                assigned_to=nullable(STR),
                attempts=INT,
                due_at=TIME,
                outcome=nullable(STR),
                done_by=nullable(STR),
                done_at=nullable(TIME),
            )
        ),
    ),
    "MaintenanceTicket": obj(
        ("alarm_id", "status", "visit_at", "notes", "updated_by", "updated_at"),
        alarm_id=STR,
        status=enum("acknowledged", "visit_planned", "fixed"),
        visit_at=nullable(TIME),
        notes=STR,
        updated_by=STR,
        updated_at=TIME,
    ),
    "ResidentSummary": obj(
        ("id", "name", "age", "language", "address", "home_id"),
        id=INT,
        name=STR,
        age=nullable(INT),
        language=STR,
        address=STR,
        home_id=INT,
    ),
    "PersonCall": obj(
        ("id", "caller", "callee", "status", "started_at", "duration_s", "kind"),
        id=INT,
        caller=STR,
        callee=STR,
        status=STR,
        started_at=TIME,
        answered_at=nullable(TIME),
        ended_at=nullable(TIME),
        ended_by=nullable(STR),
        duration_s=INT,
        kind=STR,
        alarm_ref=nullable(STR),
        connected_at=nullable(TIME),
        failure=nullable(STR),
        caller_name=STR,
        # only on the call going on (``active``): supervisors listening in (ADR 0100)
        listeners=array(ref("ListenParty")),
    ),
    "ListenParty": obj(("party", "name"), party=STR, name=STR),
    "CarephoneUnit": obj(
        ("id", "protocol", "account", "prefix", "encrypted", "supervision_s", "fall_zones"),
        id=STR,
        protocol=enum("dc09"),
        account=STR,
        prefix=STR,
        receiver=nullable(STR),
        encrypted=BOOL,
        supervision_s=INT,
        fall_zones=STR,
    ),
    "OutboxRecord": obj(
        ("id", "event_id", "kind", "state", "attempts", "created_at", "next_attempt_at"),
        id=INT,
        event_id=STR,
        kind=STR,
        resident_id=nullable(STR),
        state=enum("pending", "delivered", "dead"),
        attempts=INT,
        created_at=TIME,
        next_attempt_at=TIME,
        last_error=nullable(STR),
        delivered_at=nullable(TIME),
    ),
}

_RESIDENT = {"resident_id": ID32}
_STEP_TEXTS = obj(("key", "ca", "es", "en"), key=STR, ca=STR, es=STR, en=STR)
_HEALTH = obj(
    (
        "allergies", "conditions", "medication", "mobility_aids", "hearing", "sight", "gp",
        "health_centre", "dnr", "advance_directive", "notes", "updated_by", "updated_at",
        "editable",
    ),
    allergies=array(STR), conditions=array(STR), medication=array(STR),
    mobility_aids=array(STR), hearing=STR, sight=STR, gp=STR, health_centre=STR, dnr=BOOL,
    advance_directive=STR, notes=STR, updated_by=STR, updated_at=nullable(TIME), editable=BOOL,
)  # fmt: skip
DEVICE_ID = {"type": "string", "maxLength": 64, "pattern": DEVICE_ID_PATTERN}
TOKEN = msgspec.json.schema(Token)
_DAYS = (
    query("from", DATE, "first local day (default today)"),
    query("to", DATE, "last local day, at most 366 days after from (default from)"),
)
_PLAN = obj(
    ("resident_id", "weekly", "weekday", "hour"),
    resident_id=INT,
    weekly=BOOL,
    weekday=INT,
    hour=INT,
)
_RINGING = obj(("call_id", "status"), call_id=INT, status=enum("ringing"))
_LISTEN = obj(
    ("listen_id", "call_id", "speaker", "listener"),
    listen_id=INT,
    call_id=INT,
    speaker=ref("ListenParty"),
    listener=ref("ListenParty"),
)

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/admin/users"): Op(
        "Every user, by username", obj(("users",), users=array(ref("AdminUser")))
    ),
    ("POST", "/api/admin/users"): Op(
        "Create a user", ref("AdminUser"), status=201, body=UserCreate, errors=(400, 409)
    ),
    ("PATCH", "/api/admin/users/{user_id}"): Op(
        "Change a user's role, language, name, active flag or password, or unlock it",
        ref("AdminUser"),
        body=UserChange,
        path={"user_id": ID32},
        errors=(400, 404, 409),
    ),
    ("PUT", "/api/me/language"): Op(
        "The signed-in user's own language",
        obj(("language",), language=LANGUAGE),
        body=LanguageBody,
        errors=(400, 404),
    ),
    ("GET", "/api/alarms/live"): Op(
        "WebSocket: a snapshot of the open queue, then every alarm event",
        media=None,
        status=101,
        errors=(400,),
        description="Upgrade to a WebSocket (a browser must come from the hub's own origin)."
        " The first message is `{type: snapshot, alarms: [Alarm]}`, then"
        " `{type: alarm.created|alarm.updated, alarm: Alarm}`; see docs/integrators.md.",
    ),
    ("GET", "/api/console/calls"): Op(
        "Wellbeing calls: open ones due by tomorrow, or the last 200 done",
        obj(
            ("calls", "who", "hidden"),
            calls=array(ref("WellbeingCall")),
            who=enum("mine", "all"),
            hidden=INT,
        ),
        query=(
            query("status", enum("open", "done"), "default open"),
            query(
                "who",
                enum("mine", "all"),
                "open calls given to the user or to nobody (mine), or everyone's (all);"
                " default mine for an operator, all for other roles",
            ),
        ),
        errors=(400,),
    ),
    ("POST", "/api/console/calls"): Op(
        "Plan wellbeing calls (after_discharge: day 1, 3 and 7)",
        obj(("calls",), calls=array(ref("WellbeingCall"))),
        status=201,
        body=CallPlanned,
        errors=(400, 404, 409),
    ),
    ("POST", "/api/console/calls/{call_id}/outcome"): Op(
        "Record how a call went (once)",
        ref("WellbeingCall"),
        body=CallOutcome,
        path={"call_id": ID32},
        errors=(400, 404, 409),
    ),
    ("GET", "/api/console/campaigns"): Op(
        "Campaigns of wellbeing calls (open ones first) with their progress, the areas homes"
        " are in and who may be given calls",
        obj(
            ("campaigns", "areas", "operators"),
            campaigns=array(ref("Campaign")),
            areas=array(STR),
            operators=array(obj(("username", "display_name"), username=STR, display_name=STR)),
        ),
    ),
    ("POST", "/api/console/campaigns/preview"): Op(
        "Who a campaign's filters select (nothing is stored): how many, the first 200",
        obj(
            ("count", "residents"),
            count=INT,
            residents=array(
                obj(("id", "name", "age", "area"), id=INT, name=STR, age=nullable(INT), area=STR)
            ),
        ),
        body=CampaignPreview,
        errors=(400,),
        description="An unknown filter is 400 `unknown_filter`.",
    ),
    ("POST", "/api/console/campaigns"): Op(
        "Create a campaign: its calls go into the wellbeing-call agenda",
        ref("Campaign"),
        status=201,
        body=CampaignCreate,
        errors=(400, 409),
        description="400 `empty_population` when the filters select nobody, `unknown_filter`,"
        " `unknown_operator`; 409 `duplicate_campaign` when an open campaign has the same name,"
        " `already_called` when everyone selected has a campaign call that day (others are"
        " left out and listed in `left_out`).",
    ),
    ("GET", "/api/console/campaigns/{campaign_id}"): Op(
        "A campaign: progress, per operator, its calls",
        ref("Campaign"),
        path={"campaign_id": ID32},
        errors=(404,),
    ),
    ("POST", "/api/console/campaigns/{campaign_id}/close"): Op(
        "Close a campaign: the calls not made leave the agenda as not_called",
        ref("Campaign"),
        path={"campaign_id": ID32},
        errors=(404, 409),
    ),
    ("PUT", "/api/console/residents/{resident_id}/call-plan"): Op(
        "Weekly wellbeing calls for a resident",
        _PLAN,
        body=CallPlanBody,
        path=_RESIDENT,
        errors=(400, 404),
    ),
    ("GET", "/api/console/maintenance"): Op(
        "Maintenance tickets of technical alarms, newest first (at most 500)",
        obj(("tickets",), tickets=array(ref("MaintenanceTicket"))),
    ),
    ("PUT", "/api/console/maintenance/{alarm_id}"): Op(
        "Move a technical alarm's ticket forward",
        ref("MaintenanceTicket"),
        body=TicketStep,
        errors=(400, 404, 409),
    ),
    ("GET", "/api/console/residents"): Op(
        "Names and addresses of residents (?ids=1,2,3, at most 200; none: the first 500)",
        obj(("residents",), residents=array(ref("ResidentSummary"))),
        query=(query("ids", {"type": "string", "pattern": "^[0-9, ]*$"}, "comma-separated ids"),),
        errors=(400,),
    ),
    ("GET", "/api/console/residents/{resident_id}/card"): Op(
        "The resident card: person, home, contacts, devices, activity (every read audited)",
        obj(
            ("resident", "home", "contacts", "devices", "activity", "last_activity_at"),
            resident=obj(
                ("id", "name", "medical_notes", "lives_alone", "others_at_home", "photo_url"),
                id=INT,
                name=STR,
                age=nullable(INT),
                language=STR,
                address=STR,
                home_id=INT,
                birth_date=nullable(DATE),
                medical_notes=STR,
                lives_alone=BOOL,
                address_form=STR,
                others_at_home=INT,
                photo_url=STR,
                phone=STR,
            ),
            home=obj(
                ("id", "address", "access_notes", "has_key_safe"),
                id=INT,
                address=STR,
                access_notes=STR,
                has_key_safe=BOOL,
                lat=nullable(NUM),
                lon=nullable(NUM),
                map_url=nullable(STR),
            ),
            contacts=array(
                obj(
                    ("id", "name", "phone", "priority"),
                    id=INT,
                    name=STR,
                    phone=STR,
                    relationship=STR,
                    relationship_other=STR,  # the words, where the code is "other"
                    relationship_label=STR,
                    is_key_holder=BOOL,
                    priority=INT,
                    language=STR,
                )
            ),
            devices=array(
                obj(
                    ("id", "type", "state"),
                    id=STR,
                    type=STR,
                    room=nullable(STR),
                    name=STR,
                    state=STR,
                    battery=nullable(INT),
                    last_seen=nullable(TIME),
                )
            ),
            activity=array(obj(("start", "count"), start=TIME, count=INT)),
            last_activity_at=nullable(TIME),
        ),
        path=_RESIDENT,
        errors=(404,),
    ),
    ("GET", "/api/console/residents/{resident_id}/photo"): Op(
        "The resident's photo, or a placeholder with their initials",
        {"type": "string", "format": "binary"},
        media=("image/jpeg", "image/png", "image/svg+xml"),
        path=_RESIDENT,
        errors=(404,),
    ),
    ("POST", "/api/console/residents/{resident_id}/key-safe"): Op(
        "The key-safe code, for the operator holding an open alarm of the resident (audited)",
        obj(("code",), code=STR),
        body=KeySafeReveal,
        path=_RESIDENT,
        errors=(400, 404, 429),
    ),
    ("GET", "/api/console/figures"): Op(
        "Service figures of a period (docs/console.md defines each)",
        ref("ServiceFigures"),
        query=_DAYS,
        errors=(400,),
    ),
    ("GET", "/api/console/figures.csv"): Op(
        "The period's alarms as CSV (UTF-8, one row per alarm)",
        STR,
        media="text/csv",
        query=_DAYS,
        errors=(400,),
    ),
    ("POST", "/api/console/presence"): Op(
        "The console is open: keep the caller on the on-shift list (every 30 s)",
        media=None,
        status=204,
    ),
    ("GET", "/api/console/on-shift"): Op(
        "Staff with a console open now",
        obj(
            ("on_shift",),
            on_shift=array(
                obj(
                    ("username", "role", "since", "last_seen"),
                    username=STR,
                    role=ROLE,
                    since=TIME,
                    last_seen=TIME,
                )
            ),
        ),
    ),
    ("POST", "/api/console/alarms/{alarm_id}/voice"): Op(
        "Ring the tablet of the alarm's home (the caller must hold the alarm); its carephone's "
        "call, when another hub worker holds it, through that worker (ADR 0168: 504 "
        "carephone_worker_unreachable, with `words` in ca/es/en, when it does not answer)",
        _RINGING,
        status=201,
        errors=(400, 404, 409, 504),
    ),
    ("GET", "/api/console/alarms/{alarm_id}/voice"): Op(
        "The alarm's speech attempts, the one going on, and whether the tablet is online",
        obj(
            ("calls", "active", "tablet"),
            calls=array(ref("PersonCall")),
            active=nullable(ref("PersonCall")),
            tablet=obj(("paired", "online"), paired=BOOL, online=BOOL),
            dial=obj(("enabled", "phones", "carephone"), enabled=BOOL, phones=BOOL, carephone=BOOL),
            unit_call=nullable(
                obj(
                    ("call_id", "device_id", "status"),
                    call_id=STR,
                    device_id=STR,
                    status=enum("ringing", "answered"),
                )
            ),
        ),
        errors=(404,),
    ),
    ("POST", "/api/console/alarms/{alarm_id}/dial"): Op(
        "Call the resident's phone, the home's carephone or a contact through the hub's SIP "
        "endpoint (the caller must hold the alarm; outcome in the alarm's history, ADR 0143)",
        obj(
            ("call_id", "party", "name", "status"),
            call_id=STR,
            party=STR,
            name=STR,
            status=STR,
        ),
        body=DialRequest,
        status=201,
        errors=(400, 404, 409, 503),
    ),
    ("POST", "/api/console/dials/{call_id}/media"): Op(
        "The operator's WebRTC leg of their call out: the browser's offer, the hub's answer",
        obj(("sdp",), sdp=obj(("type", "sdp"), type=STR, sdp=STR)),
        body=MediaOffer,
        errors=(400, 403, 404, 409, 504),
    ),
    ("POST", "/api/console/dials/{call_id}/hangup"): Op(
        "Hang up the operator's call out (a ringing one is cancelled; through the hub worker "
        "that placed it, 504 carephone_worker_unreachable when it does not answer)",
        obj(("call_id", "outcome"), call_id=STR, outcome=STR),
        errors=(403, 404, 504),
    ),
    ("POST", "/api/console/alarms/{alarm_id}/voice/listen"): Op(
        "A supervisor listens in to the call going on about the alarm (receive only; the "
        "operator's browser offers the leg over /api/family/ws; 409 no_call, own_call, "
        "already_listening)",
        _LISTEN,
        status=201,
        errors=(404, 409),
    ),
    ("POST", "/api/console/residents/{resident_id}/voice"): Op(
        "Ring the resident's tablet for a wellbeing call without an alarm",
        _RINGING,
        status=201,
        path=_RESIDENT,
        errors=(400, 404, 409),
    ),
    ("GET", "/api/console/residents/{resident_id}/health"): Op(
        "The resident's health and care record (every read audited)",
        _HEALTH,
        path=_RESIDENT,
        errors=(404,),
    ),
    ("PUT", "/api/console/residents/{resident_id}/health"): Op(
        "Change fields of the health and care record (audited with the fields' names)",
        _HEALTH,
        body=HealthBody,
        path=_RESIDENT,
        errors=(400, 404),
    ),
    ("GET", "/api/console/residents/{resident_id}/adherence"): Op(
        "Medication adherence per week: doses expected (grace over), confirmed, missed",
        obj(
            ("doses", "weeks"),
            doses=array(STR),
            weeks=array(
                obj(
                    ("week_start", "expected", "confirmed", "missed"),
                    week_start=DATE,
                    expected=INT,
                    confirmed=INT,
                    missed=INT,
                )
            ),
        ),
        path=_RESIDENT,
        query=(query("weeks", {"type": "integer", "minimum": 1, "maximum": 26}, "default 4"),),
        errors=(400, 404),
    ),
    ("GET", "/api/console/residents/{resident_id}/messages"): Op(
        "What was sent to the resident's tablet (messages, agenda and medication reminders),"
        " newest first, and what became of each (ADR 0163)",
        obj(
            ("now", "messages"),
            now=TIME,
            messages=array(
                obj(
                    (
                        *("id", "kind", "text", "sent_by", "sent_at", "expires_at"),
                        *("state", "state_at", "until", "confirm", "speak", "older_tablet"),
                    ),
                    id=STR,
                    kind=enum("message", "reminder", "medication"),
                    text=STR,
                    sent_by=nullable(STR),
                    sent_at=TIME,
                    expires_at=TIME,
                    state=enum("sent", "received", "shown", "postponed", "acknowledged", "expired"),
                    state_at=TIME,
                    until=nullable(TIME),
                    confirm=BOOL,
                    speak=BOOL,
                    older_tablet=BOOL,
                )
            ),
        ),
        path=_RESIDENT,
        errors=(404,),
        description="`kind`: message, reminder, medication. `state`: sent, received, shown,"
        " postponed (`until`: when the tablet shows it again; null: not before it expires),"
        " acknowledged, expired (not acknowledged by `expires_at`). `confirm` false: a message"
        " sent without asking for confirmation, complete once shown (never expired then)."
        " `speak`: said aloud as well as shown. `older_tablet`: the tablet acked without a"
        " state (before ADR 0163) and cannot confirm; what it received is never expired.",
    ),
    ("POST", "/api/console/messages"): Op(
        "A spoken and written message from the centre to residents' tablets",
        obj(("sent", "no_tablet"), sent=array(INT), no_tablet=array(INT)),
        body=TabletMessage,
        errors=(400, 404),
        description="Errors: 400 `text_empty` (no text, or only spaces or control"
        " characters), `text_too_long` (over 500 characters), `invalid_request` otherwise.",
    ),
    ("GET", "/api/console/protocols/edit"): Op(
        "Every alarm kind's protocol in ca/es/en for the editor: the one in use, the shipped"
        " one, whether it is the centre's own",
        obj(
            ("kinds",),
            kinds=array(
                obj(
                    ("kind", "name", "steps", "shipped", "own", "updated_by", "updated_at"),
                    kind=STR,
                    name=STR,
                    steps=array(_STEP_TEXTS),
                    shipped=array(_STEP_TEXTS),
                    own=BOOL,
                    updated_by=nullable(STR),
                    updated_at=nullable(TIME),
                )
            ),
        ),
    ),
    ("PUT", "/api/console/protocols/{kind}"): Op(
        "Store the centre's own protocol for an alarm kind (replaces the shipped one)",
        obj(
            ("kind", "steps", "own", "updated_by", "updated_at"),
            kind=STR,
            steps=array(_STEP_TEXTS),
            own=BOOL,
            updated_by=STR,
            updated_at=TIME,
        ),
        body=ProtocolEdit,
        errors=(400, 404),
        description="400 `invalid_steps` (none, more than 12, a bad key or an empty text),"
        " `duplicate_step`; 404 `unknown_kind`.",
    ),
    ("DELETE", "/api/console/protocols/{kind}"): Op(
        "Go back to the shipped protocol for an alarm kind",
        None,
        status=204,
        media=None,
        errors=(404,),
    ),
    ("GET", "/api/console/protocols"): Op(
        "Operator protocols: the steps per alarm rule, in the reader's language",
        obj(
            ("protocols", "same_as"),
            protocols={
                "type": "object",
                "additionalProperties": array(obj(("key", "text"), key=STR, text=STR)),
            },
            same_as={"type": "object", "additionalProperties": STR},
        ),
    ),
    ("POST", "/api/alarms/{alarm_id}/protocol-steps"): Op(
        "Tick a step of the alarm's protocol (a note in its history)",
        ref("AlarmView"),
        body=ProtocolStep,
        errors=(400, 404, 409, 422),
    ),
    ("GET", "/api/carephones"): Op(
        "Registered DC-09 carephones and alarm panels (never their keys)",
        obj(("units",), units=array(ref("CarephoneUnit"))),
    ),
    ("POST", "/api/carephones"): Op(
        "Register a DC-09 carephone or alarm panel of a home (docs/carephones.md)",
        ref("CarephoneUnit"),
        status=201,
        body=CarephoneCreate,
        errors=(400, 404, 409),
    ),
    ("GET", "/api/devices/{device_id}/events"): Op(
        "A device's stored events, newest first (page back with before)",
        StoredEventPage,
        path={"device_id": DEVICE_ID},
        query=(
            query(
                "type", {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}, "only this type"
            ),
            query("before", {"type": "integer", "minimum": 1, "maximum": 2**62}, "ids below"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
        ),
        errors=(400, 404),
    ),
    ("GET", "/api/wsocial/outbox"): Op(
        "Records of the wSocial outbox in one state",
        obj(("records",), records=array(ref("OutboxRecord"))),
        query=(
            query("state", enum("pending", "delivered", "dead"), "default dead"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
        ),
        errors=(400,),
    ),
    ("GET", "/api/wsocial/outbox/counts"): Op(
        "How many outbox records are pending, delivered and dead",
        {"type": "object", "additionalProperties": INT},
    ),
    ("POST", "/api/wsocial/outbox/{record_id}/replay"): Op(
        "Put a dead record back in line",
        obj(("id", "state"), id=INT, state=enum("pending")),
        path={"record_id": ID32},
        errors=(404, 409),
    ),
    ("POST", "/api/residents/{rid}/tablet-setup-codes"): Op(
        "A one-time setup code for the resident's tablet",
        obj(("code", "resident_id", "expires_at"), code=STR, resident_id=INT, expires_at=TIME),
        status=201,
        path={"rid": ID32},
        errors=(404, 503),
    ),
    ("POST", "/api/tablet/pair"): Op(
        "A tablet exchanges its setup code for its identity, API token and broker credentials",
        obj(
            ("device_id", "resident_id", "hub_url", "api_token", "mqtt"),
            device_id=STR,
            resident_id=INT,
            hub_url=STR,
            api_token=STR,
            api_token_expires_at=TIME,
            api_token_renew_at=TIME,
            mqtt=obj(
                ("host", "port", "tls", "username", "password"),
                host=STR,
                port=INT,
                tls=BOOL,
                username=STR,
                password=STR,
            ),
        ),
        body=PairBody,
        errors=(400, 404, 409, 410, 429),
    ),
}
