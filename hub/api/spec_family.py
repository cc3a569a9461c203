"""Operations of the family network API (``/api/family``): circles, tablets, conversations,
media, calls, agenda, groups, alarm notices, activity and today.

Every family route is ``@family_api``: a signed-in person or a resident's tablet token; what
each may see is decided inside (circle membership and consent: 403 ``forbidden`` or
``consent_required``). Bodies are :mod:`hub.family.bodies`; answers are checked against these
schemas by ``tests/hub/api/test_openapi_answers.py``.
"""

from __future__ import annotations

from hub.api.described import (
    ANY_OBJECT,
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
from hub.family import bodies

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

_MEDIA = obj(
    ("id", "kind", "content_type", "size", "url"),
    id=INT,
    kind=enum("photo", "video", "voice"),
    content_type=STR,
    size=INT,
    width=nullable(INT),
    height=nullable(INT),
    duration_s=nullable(NUM),
    url=STR,
    thumbnail_url=nullable(STR),
)
COMPONENTS.update(
    {
        "Media": _MEDIA,
        "Message": obj(
            ("id", "conversation_id", "sender", "kind", "text", "created_at", "deleted"),
            id=INT,
            conversation_id=INT,
            sender=ref("Party"),
            kind=STR,
            text=STR,
            media=nullable(ref("Media")),
            created_at=TIME,
            deleted=BOOL,
            read_by=array(STR),
        ),
        "VideoUpload": obj(
            (
                "id",
                "upload_id",
                "conversation_id",
                "sender",
                "kind",
                "text",
                "status",
                "failure",
                "size",
                "duration_s",
                "created_at",
            ),
            id=nullable(INT),  # null until it is a message
            upload_id=INT,
            conversation_id=INT,
            sender=ref("Party"),
            kind=enum("video"),
            text=STR,
            status=enum("processing", "failed"),
            # media_corrupt, media_too_long, media_missing, media_unprocessable, not_member
            failure=nullable(STR),
            size=INT,
            duration_s=nullable(NUM),
            created_at=TIME,
        ),
        "AgendaItem": obj(
            ("id", "resident_id", "title", "kind", "starts_at", "status", "created_by"),
            id=INT,
            resident_id=INT,
            title=STR,
            kind=STR,
            starts_at=TIME,
            ends_at=nullable(TIME),
            status=STR,
            created_by=ref("Party"),
            group_id=nullable(INT),
            remind_before_s=INT,
        ),
        "Group": obj(
            ("id", "name", "facilitator", "conversation_id", "members", "created_at"),
            id=INT,
            name=STR,
            facilitator=STR,
            conversation_id=INT,
            members=INT,
            created_at=TIME,
        ),
        "AlarmNotice": obj(
            ("id", "resident_id", "alarm_ref", "event_type", "state", "created_at"),
            id=INT,
            resident_id=INT,
            alarm_ref=STR,
            event_type=STR,
            state=STR,
            # raised, speaking, on_the_way, called_112, closed (hub/family/alarm_stage.py)
            stage=STR,
            created_at=TIME,
            # answer: on_my_way or cannot; party c:N is a key holder who answered by SMS.
            acknowledgements=array(
                obj(
                    ("party", "name", "at", "answer"),
                    party=STR,
                    name=STR,
                    at=TIME,
                    answer=enum("on_my_way", "cannot"),
                )
            ),
            # How the centre is handling it (hub/family/alarm_progress.py); target only on
            # "help", outcome only on "resolved".
            steps=array(obj(("kind", "at"), kind=STR, at=TIME, target=STR, outcome=STR)),
            pushed=INT,  # after posting: how many members were told live
            on_alarm=BOOL,  # after "on my way": whether the centre's alarm noted it
            # A missed dose told to the family (event_type medication_missed; ADR 0152).
            dose=nullable(obj(("schedule", "due"), schedule=STR, due=TIME)),
        ),
        "FamilyCall": obj(
            ("id", "caller", "callee", "status", "started_at", "direction"),
            id=INT,
            caller=ref("Party"),
            callee=ref("Party"),
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
            direction=enum("outgoing", "incoming"),
        ),
    }
)

_RID = {"rid": ID32}
_GID = {"gid": ID32}
_MEMBERSHIP = obj(("group_id", "resident_id", "status"), group_id=INT, resident_id=INT, status=STR)
_ANSWERED = obj(("id", "status"), id=INT, status=STR, conversation_id=nullable(INT))
_FROM = obj(("party", "name"), party=STR, name=STR)
_INVITATION = obj(
    ("id", "group_id", "from", "status"), id=INT, group_id=INT, status=STR, **{"from": _FROM}
)


def _op(summary: str, answer: Schema | None, *errors: int, **kw: object) -> Op:
    """A family operation: everyone may be refused for their circle or consent (403)."""
    return Op(summary, answer, errors=tuple(sorted({403, *errors})), **kw)  # type: ignore[arg-type]


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/family/me"): _op(
        "Who the caller is to the family network",
        obj(
            ("party", "kind", "name", "role", "resident_id", "language"),
            party=STR,
            kind=enum("resident", "user"),
            name=STR,
            role=nullable(STR),
            resident_id=nullable(INT),
            language=STR,
        ),
    ),
    ("POST", "/api/family/residents/{rid}/linking-codes"): _op(
        "A linking code for a new circle member (the resident's tablet, or staff)",
        ref("LinkCode"),
        400,
        404,
        429,
        status=201,
        body=bodies.LinkingCodeBody,
        body_required=False,
        path=_RID,
    ),
    ("POST", "/api/family/links"): _op(
        "Join a resident's circle with a linking code",
        ref("CircleLink"),
        400,
        404,
        409,
        410,
        429,
        status=201,
        body=bodies.RedeemBody,
    ),
    ("GET", "/api/family/residents"): _op(
        "The residents whose circle the caller is in",
        array(
            obj(
                ("resident_id", "party", "name", "relationship", "consent", "link_id"),
                resident_id=INT,
                party=STR,
                name=STR,
                relationship=STR,
                consent=array(STR),
                link_id=INT,
                conversation_id=INT,
            )
        ),
    ),
    ("GET", "/api/family/residents/{rid}/circle"): _op(
        "The members of a resident's circle", array(ref("CircleLink")), 404, path=_RID
    ),
    ("PATCH", "/api/family/links/{link_id}"): _op(
        "Change what a member may see (the resident, or staff with a reason)",
        ref("CircleLink"),
        400,
        404,
        422,
        body=bodies.LinkChange,
        path={"link_id": ID32},
    ),
    ("DELETE", "/api/family/links/{link_id}"): Op(
        "Take a member out of the circle (or leave it)",
        media=None,
        status=204,
        body=bodies.LinkRemoval,
        body_required=False,
        path={"link_id": ID32},
        errors=(400, 403, 404, 422),
    ),
    ("POST", "/api/family/tablet/token"): _op(
        "A paired tablet swaps its token for a new one",
        obj(("token", "expires_at", "renew_at"), token=STR, expires_at=TIME, renew_at=TIME),
    ),
    ("GET", "/api/family/residents/{rid}/tablets"): _op(
        "Staff: which tablets hold a token for the resident, until when",
        array(
            obj(
                ("device_id", "resident_id", "issued_at", "expires_at", "expired"),
                device_id=STR,
                resident_id=INT,
                issued_at=TIME,
                expires_at=TIME,
                expired=BOOL,
            )
        ),
        404,
        path=_RID,
    ),
    ("DELETE", "/api/family/tablets/{device_id}"): Op(
        "Staff withdraw a tablet's token", media=None, status=204, errors=(403, 404)
    ),
    ("GET", "/api/family/conversations"): _op(
        "The caller's conversations, newest activity first, with unread counts",
        array(
            obj(
                ("id", "kind", "title", "members", "unread", "last_message", "last_activity"),
                id=INT,
                kind=enum("direct", "group"),
                group_id=nullable(INT),
                title=STR,
                members=array(ref("Party")),
                unread=INT,
                last_message=nullable(ref("Message")),
                last_activity=nullable(TIME),
            )
        ),
    ),
    ("POST", "/api/family/conversations"): _op(
        "Get or create the direct conversation with another party",
        obj(("id", "kind"), id=INT, kind=enum("direct")),
        400,
        404,
        body=bodies.DirectBody,
    ),
    ("GET", "/api/family/conversations/{cid}/messages"): _op(
        "A page of messages, newest first",
        obj(
            ("messages", "next_before"),
            messages=array(ref("Message")),
            next_before=nullable(INT),
            # First page only: the caller's own videos still being prepared, or failed.
            uploads=array(ref("VideoUpload")),
        ),
        400,
        404,
        path={"cid": ID32},
        query=(
            query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "default 30"),
            query(
                "before",
                {"type": "integer", "minimum": 1, "maximum": 2**62},
                "only messages with a smaller id",
            ),
        ),
    ),
    ("POST", "/api/family/conversations/{cid}/messages"): _op(
        "Send text, or a media object the caller uploaded (with an optional caption)",
        ref("Message"),
        400,
        404,
        429,
        status=201,
        body=bodies.MessageBody,
        path={"cid": ID32},
    ),
    ("POST", "/api/family/conversations/{cid}/videos"): _op(
        "Send a video message: checked at once, answered 202 'processing', re-encoded by a "
        "background job, then delivered (message.new); or 'failed' with the reason",
        ref("VideoUpload"),
        400,
        404,
        413,
        415,
        422,
        429,
        status=202,
        body_media="application/octet-stream",
        body_schema={"type": "string", "format": "binary"},
        path={"cid": ID32},
        query=(query("text", STR, "an optional caption (at most 2000 characters)"),),
    ),
    ("DELETE", "/api/family/video-uploads/{uid}"): Op(
        "Its sender drops a video still being prepared, or that failed",
        media=None,
        status=204,
        path={"uid": ID32},
        errors=(403, 404),
    ),
    ("POST", "/api/family/conversations/{cid}/read"): _op(
        "Read receipt: seen up to a message",
        obj(("unread", "up_to"), unread=INT, up_to=INT),
        400,
        404,
        body=bodies.ReadMark,
        path={"cid": ID32},
    ),
    ("DELETE", "/api/family/messages/{mid}"): Op(
        "The sender withdraws a message (its content is erased)",
        media=None,
        status=204,
        path={"mid": ID32},
        errors=(403, 404),
    ),
    ("GET", "/api/family/unread"): _op(
        "Unread counts of all the caller's conversations",
        obj(
            ("total", "conversations"),
            total=INT,
            conversations={"type": "object", "additionalProperties": INT},
        ),
    ),
    ("POST", "/api/family/media"): _op(
        "Upload a photo or voice recording (checked by its content); a video goes to "
        "POST /api/family/conversations/{cid}/videos (400 video_needs_conversation)",
        {**_MEDIA, "properties": {**_MEDIA["properties"], "media_id": INT}},
        400,
        413,
        415,
        429,
        status=201,
        body_media="application/octet-stream",
        body_schema={"type": "string", "format": "binary"},
        query=(query("kind", enum("photo", "video", "voice"), "what it is", required=True),),
    ),
    ("GET", "/api/family/media/{media_id}"): _op(
        "A media object the caller may see",
        {"type": "string", "format": "binary"},
        404,
        media=(
            "image/jpeg",
            "image/png",
            "video/mp4",
            "audio/ogg",
            "audio/mpeg",
            "audio/mp4",
            "video/webm",
            "audio/webm",
        ),
        path={"media_id": ID32},
    ),
    ("GET", "/api/family/media/{media_id}/thumbnail"): _op(
        "A photo's or video's thumbnail",
        {"type": "string", "format": "binary"},
        404,
        media="image/jpeg",
        path={"media_id": ID32},
    ),
    ("GET", "/api/family/calls/config"): _op(
        "ICE servers (STUN/TURN with short-lived credentials) and the ring time for calls",
        obj(("ice_servers", "ring_timeout_s"), ice_servers=array(ANY_OBJECT), ring_timeout_s=NUM),
    ),
    ("GET", "/api/family/calls"): _op(
        "The caller's calls, newest first (content never stored)",
        array(ref("FamilyCall")),
        400,
        query=(query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "default 30"),),
    ),
    ("GET", "/api/family/residents/{rid}/agenda"): _op(
        "The resident's agenda between two instants (default: a day ago to 30 days on)",
        array(ref("AgendaItem")),
        400,
        404,
        path=_RID,
        query=(query("from", TIME, "from"), query("to", TIME, "to")),
    ),
    ("POST", "/api/family/residents/{rid}/agenda"): _op(
        "Put an appointment on the agenda (an invitation if not the resident or staff)",
        ref("AgendaItem"),
        400,
        404,
        429,
        status=201,
        body=bodies.AgendaBody,
        path=_RID,
    ),
    ("POST", "/api/family/agenda/{item_id}/respond"): _op(
        "The resident accepts or declines an invitation",
        ref("AgendaItem"),
        400,
        404,
        409,
        body=bodies.AnswerBody,
        path={"item_id": ID32},
    ),
    ("DELETE", "/api/family/agenda/{item_id}"): Op(
        "Its creator, the resident or staff cancel an item",
        media=None,
        status=204,
        path={"item_id": ID32},
        errors=(403, 404),
    ),
    ("POST", "/api/family/groups"): _op(
        "A facilitator starts a group (with its chat)",
        ref("Group"),
        400,
        status=201,
        body=bodies.GroupBody,
    ),
    ("GET", "/api/family/groups"): _op(
        "The facilitator's groups, the resident's, or all for staff", array(ref("Group"))
    ),
    ("GET", "/api/family/groups/{gid}"): _op(
        "A group's members (for its facilitator: last activity, who has gone quiet)",
        obj(
            ("id", "name", "facilitator", "members", "facilitator_name", "member_list"),
            **COMPONENTS["Group"]["properties"],
            facilitator_name=STR,
            member_list=array(
                obj(
                    ("resident_id", "party", "name"),
                    resident_id=INT,
                    party=STR,
                    name=STR,
                    last_activity=nullable(TIME),
                    quiet_days=nullable(INT),
                    quiet=BOOL,
                    not_started=BOOL,  # never sent or called: not "quiet"
                )
            ),
        ),
        404,
        path=_GID,
    ),
    ("POST", "/api/family/groups/{gid}/members"): _op(
        "Ask a resident to join (202: they answer on their tablet; 201: staff added them)",
        _MEMBERSHIP,
        400,
        404,
        409,
        status=202,
        body=bodies.GroupMemberBody,
        path=_GID,
    ),
    ("DELETE", "/api/family/groups/{gid}/members/{rid}"): Op(
        "Take a resident out of a group",
        media=None,
        status=204,
        path={**_GID, **_RID},
        errors=(403, 404),
    ),
    ("POST", "/api/family/groups/{gid}/events"): _op(
        "An activity of the group, put on every member's agenda",
        array(ref("AgendaItem")),
        400,
        404,
        429,
        status=201,
        body=bodies.AgendaBody,
        path=_GID,
    ),
    ("POST", "/api/family/groups/{gid}/invitations"): _op(
        "A member invites another resident to the group",
        _INVITATION,
        400,
        404,
        409,
        status=201,
        body=bodies.InvitationBody,
        path=_GID,
    ),
    ("GET", "/api/family/invitations"): _op(
        "Pending invitations for the resident (their tablet)", array(_INVITATION)
    ),
    ("GET", "/api/family/group-requests"): _op(
        "Pending requests to join a group (the tablet's own, or staff's ?resident_id=)",
        array(
            obj(
                ("group_id", "group_name", "resident_id", "facilitator", "requested_at"),
                group_id=INT,
                group_name=STR,
                resident_id=INT,
                facilitator=_FROM,
                requested_at=TIME,
            )
        ),
        400,
        query=(query("resident_id", ID32, "staff: which resident"),),
    ),
    ("POST", "/api/family/groups/{gid}/respond"): _op(
        "The resident (or staff for them) accept or decline joining",
        _MEMBERSHIP,
        400,
        404,
        body=bodies.AnswerBody,
        path=_GID,
    ),
    ("POST", "/api/family/invitations/{inv_id}/respond"): _op(
        "The resident accepts or declines an invitation",
        _ANSWERED,
        400,
        404,
        409,
        body=bodies.AnswerBody,
        path={"inv_id": ID32},
    ),
    ("GET", "/api/family/residents/{rid}/alarm-notices"): _op(
        "Alarm notices of a resident (staff, or members with consent to alarms)",
        array(ref("AlarmNotice")),
        404,
        path=_RID,
    ),
    ("POST", "/api/family/residents/{rid}/alarm-notices"): _op(
        "Staff tell the circle about an alarm",
        ref("AlarmNotice"),
        400,
        404,
        status=201,
        body=bodies.NoticeBody,
        path=_RID,
    ),
    ("POST", "/api/family/alarm-notices/{notice_id}/on-my-way"): _op(
        "A member says they are on their way (the operators see it; 409 once it is closed)",
        ref("AlarmNotice"),
        404,
        409,
        path={"notice_id": ID32},
    ),
    ("POST", "/api/family/alarm-notices/{notice_id}/cannot"): _op(
        "A member says they cannot go (the operators see it; 409 once it is closed)",
        ref("AlarmNotice"),
        404,
        409,
        path={"notice_id": ID32},
    ),
    ("POST", "/api/family/sms/replies"): Op(
        "The SMS gateway posts a key holder's reply: its code answers the alarm it was "
        "sent for (bearer: [family] sms_inbound_token)",
        obj(
            ("notice_id", "answer", "stage"),
            notice_id=INT,
            answer=enum("on_my_way", "cannot"),
            stage=STR,
        ),
        body=bodies.SmsReply,
        errors=(400, 401, 403, 404, 409, 410),
        description="404 code_unknown, 410 code_expired (or the alarm is over), 409 "
        "code_used, 403 wrong_sender (not the number the code was sent to).",
    ),
    ("GET", "/api/family/residents/{rid}/activity"): _op(
        "Last check-in, last movement and events of the last 24 h (consent: activity)",
        obj(
            ("resident_id", "last_check_in", "last_movement", "events_24h"),
            resident_id=INT,
            last_check_in=nullable(TIME),
            last_movement=nullable(TIME),
            events_24h=INT,
        ),
        404,
        path=_RID,
    ),
    ("GET", "/api/family/residents/{rid}/today"): _op(
        "Today at a glance: what the resident shares with the caller",
        obj(
            ("resident_id", "name", "shared"),
            resident_id=INT,
            name=STR,
            shared=array(STR),
            check_in=obj(("done_at",), done_at=nullable(TIME)),
            last_activity=obj(("at", "minutes_ago"), at=nullable(TIME), minutes_ago=nullable(INT)),
            next_agenda=nullable(
                obj(("title", "starts_at", "kind"), title=STR, starts_at=TIME, kind=STR)
            ),
            open_alarm=nullable(
                obj(("event_type", "state", "since"), event_type=STR, state=STR, since=TIME)
            ),
            medication=obj(
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
        ),
        404,
        path=_RID,
    ),
    ("POST", "/api/family/signup"): Op(
        "A relative with a linking code asks for an account: a code goes to their contact",
        obj(("signup_id", "sent_to", "expires_at"), signup_id=STR, sent_to=STR, expires_at=TIME),
        status=202,
        body=bodies.SignupBody,
        errors=(400, 404, 410, 429, 502),
    ),
    ("POST", "/api/family/signup/{sid}/verify"): Op(
        "The code sent: the account is made, joins the circle and is signed in",
        ref("TokenPair"),
        status=201,
        body=bodies.CodeBody,
        path={"sid": {"type": "string", "minLength": 1, "maxLength": 40}},
        errors=(400, 404, 409, 410, 429),
    ),
    ("POST", "/api/auth/password-reset"): Op(
        "A code to change a family account's password (the same answer for any contact)",
        obj(("reset_id", "sent_to", "expires_at"), reset_id=STR, sent_to=STR, expires_at=TIME),
        status=202,
        body=bodies.ResetBody,
        errors=(400, 429, 502),
    ),
    ("POST", "/api/auth/password-reset/{rid}/confirm"): Op(
        "The code and a new password: the password changes and every sign-in ends",
        media=None,
        status=204,
        body=bodies.ResetConfirm,
        path={"rid": {"type": "string", "minLength": 1, "maxLength": 40}},
        errors=(400, 404, 410, 429),
    ),
    ("GET", "/api/family/push/key"): _op(
        "The VAPID public key to subscribe to push notifications with",
        obj(("public_key",), public_key=STR),
        404,
    ),
    ("POST", "/api/family/push/subscriptions"): _op(
        "Keep this browser's push subscription for the signed-in person",
        obj(("endpoint",), endpoint=STR),
        400,
        status=201,
        body=bodies.PushSubscription,
    ),
    ("DELETE", "/api/family/push/subscriptions"): Op(
        "Forget a push subscription of the signed-in person",
        media=None,
        status=204,
        body=bodies.PushEndpoint,
        errors=(400, 403),
    ),
    ("GET", "/api/family/ws"): Op(
        "WebSocket: live family events (messages, calls and their signalling, agenda, alarms)",
        media=None,
        status=101,
        errors=(400, 401, 403),
        description="Upgrade to a WebSocket with the same bearer token (or the session"
        " cookie from the hub's own pages). Frames are JSON objects with a `type`"
        " (`message.new`, `message.read`, `call.incoming`, `agenda.changed`, ...).",
    ),
}
