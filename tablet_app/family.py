"""The family network's HTTP API, as the tablet uses it (see docs/family-api.md).

Conversations become the faces on the Messages and Call screens, their messages the
model's messages (photos downloaded for full-screen viewing), read receipts go back,
the agenda is read where the hub offers it, and linking codes are created for the
resident. The hub's answers are decoded into small Structs; anything else is an error
that is logged, never shown to the resident.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import msgspec

from tablet_app.calls import CallEngine
from tablet_app.circle import CircleMember, known_scopes
from tablet_app.model import (
    GROUP_PREFIX,
    AgendaItem,
    AgendaKind,
    CallState,
    Contact,
    Message,
    Screen,
    TabletModel,
)

_LOGGER = logging.getLogger(__name__)

HISTORY_LIMIT = 10


class FamilyError(Exception):
    """The family API could not be used (network, status or an unexpected answer).

    ``status`` is the hub's HTTP status when it answered (``None``: no answer at all).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Party(msgspec.Struct):
    party: str
    name: str


class _Media(msgspec.Struct):
    id: int
    kind: str
    url: str
    thumbnail_url: str | None = None


class _Message(msgspec.Struct):
    id: int
    conversation_id: int
    sender: _Party
    kind: Literal["text", "photo", "video", "voice"]
    created_at: datetime
    text: str = ""
    media: _Media | None = None
    deleted: bool = False
    read_by: list[str] = msgspec.field(default_factory=list)


class _Conversation(msgspec.Struct):
    id: int
    kind: str
    title: str
    members: list[_Party]
    unread: int = 0


class _IceServer(msgspec.Struct):
    urls: list[str] | str
    username: str | None = None
    credential: str | None = None


class _CallConfig(msgspec.Struct):
    ice_servers: list[_IceServer] = msgspec.field(default_factory=list)


class _History(msgspec.Struct):
    messages: list[_Message]


class TabletToken(msgspec.Struct, frozen=True):
    """The family-API token and when to renew it (``POST /api/family/tablet/token``)."""

    token: str
    expires_at: datetime | None = None
    renew_at: datetime | None = None


class _LinkCode(msgspec.Struct):
    code: str
    expires_at: datetime
    consent: list[str] = msgspec.field(default_factory=list)


class _Link(msgspec.Struct):
    link_id: int
    member: _Party
    relationship: str = ""
    consent: list[str] = msgspec.field(default_factory=list)


class _AgendaItem(msgspec.Struct):
    id: int
    title: str
    starts_at: datetime
    kind: str = "other"
    status: str = "confirmed"


_AGENDA_KINDS: dict[str, AgendaKind] = {
    "visit": "visit",
    "appointment": "doctor",
    "activity": "group",
}


class FamilyClient:
    """The resident's side of the family API, bound to one model.

    Methods called from the UI (``mark_read``, ``request_link_code``, …) start a task that
    this object owns; :meth:`close` cancels and awaits them.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        resident_id: int,
        model: TabletModel,
        media_dir: Path,
        *,
        timeout_s: float = 20.0,
        renew_at: datetime | None = None,
        on_new_token: Callable[[TabletToken], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.resident_id = resident_id
        self.party = f"r:{resident_id}"
        self.model = model
        self.media_dir = media_dir
        self._headers = {"Authorization": f"Bearer {token}"}
        self.renew_at = renew_at
        self._on_new_token = on_new_token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._conversation_of: dict[str, int] = {}  # contact id (party) → conversation
        self._tasks: set[asyncio.Task[None]] = set()
        self._circle_lock = asyncio.Lock()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.live_connected = asyncio.Event()
        self.calls: CallEngine | None = None

    # ------------------------------------------------------------ plumbing

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # The token goes with each request (not the session): renewal replaces it.
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        json: object = None,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> bytes:
        url = self.base_url + path
        headers = dict(self._headers)
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self._http().request(
                method, url, json=json, data=data, headers=headers
            ) as response:
                body = await response.read()
                if response.status >= 300:
                    raise FamilyError(
                        f"{method} {path}: {response.status} {body[:200]!r}", response.status
                    )
                return body
        except aiohttp.ClientError as err:
            raise FamilyError(f"{method} {path}: {err!r}") from err

    async def _get(self, path: str, kind: type[Any]) -> Any:
        body = await self._call("GET", path)
        try:
            return msgspec.json.decode(body, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise FamilyError(f"GET {path}: unexpected answer: {err}") from err

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.warning("family task %s failed: %s", task.get_name(), err)

    async def close(self) -> None:
        """Cancel every task and close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ reading

    async def renew_token_if_due(self, now: datetime) -> bool:
        """Swap the family-API token for a new one once its renewal time has come.

        The hub replaces the old token at once, so the new one is handed to
        ``on_new_token`` (which stores it) before it is used.
        """
        if self.renew_at is None or now < self.renew_at:
            return False
        body = await self._call("POST", "/api/family/tablet/token")
        try:
            renewed = msgspec.json.decode(body, type=TabletToken)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise FamilyError(f"token renewal: unexpected answer: {err}") from err
        self._headers = {"Authorization": f"Bearer {renewed.token}"}
        self.renew_at = renewed.renew_at
        if self._on_new_token is not None:
            self._on_new_token(renewed)
        _LOGGER.info("family-API token renewed until %s", renewed.expires_at)
        return True

    async def refresh(self) -> None:
        """Load conversations, recent messages and the agenda into the model."""
        conversations: list[_Conversation] = await self._get(
            "/api/family/conversations", list[_Conversation]
        )
        contacts: list[Contact] = []
        messages: list[Message] = []
        self._conversation_of.clear()
        for conversation in conversations:
            contact = self._contact_of(conversation)
            if contact is None:
                continue
            self._conversation_of[contact.id] = conversation.id
            contacts.append(contact)
            history: _History = await self._get(
                f"/api/family/conversations/{conversation.id}/messages?limit={HISTORY_LIMIT}",
                _History,
            )
            for item in history.messages:
                if not item.deleted:
                    messages.append(await self._message(contact.id, item))
        self.model.set_family(contacts, messages)
        await self._refresh_agenda()

    def _contact_of(self, conversation: _Conversation) -> Contact | None:
        if conversation.kind == "group":
            return Contact(f"{GROUP_PREFIX}{conversation.id}", conversation.title)
        others = [m for m in conversation.members if m.party != self.party]
        if not others:
            return None
        return Contact(others[0].party, others[0].name)

    async def _message(self, contact_id: str, item: _Message) -> Message:
        outgoing = item.sender.party == self.party
        media: str | None = None
        if item.media is not None and item.kind in ("photo", "video"):
            media = str(await self._download(item.media))
        elif item.media is not None and item.kind == "voice":
            media = await self._voice(item.media)
        return Message(
            id=str(item.id),
            contact_id=contact_id,
            kind=item.kind,
            sent_at=item.created_at,
            text=item.text,
            media=media,
            read=outgoing or self.party in item.read_by,
            sender="" if outgoing else item.sender.name,
            outgoing=outgoing,
        )

    async def _download(self, media: _Media) -> Path:
        path = self.media_dir / f"media-{media.id}"
        if not path.exists():
            body = await self._call("GET", media.url)
            self.media_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(body)
            tmp.replace(path)
        return path

    async def _voice(self, media: _Media) -> str | None:
        """The voice message as a WAV file the tablet can play (``None`` if it cannot)."""
        from tablet_app.playback import UnplayableVoice, voice_to_wav

        target = self.media_dir / f"media-{media.id}.wav"
        if not target.exists():
            source = await self._download(media)
            try:
                await asyncio.to_thread(voice_to_wav, source, target)
            except UnplayableVoice as err:
                _LOGGER.warning("voice message %s cannot be played: %s", media.id, err)
                return None
        return str(target)

    async def _refresh_agenda(self) -> None:
        path = f"/api/family/residents/{self.resident_id}/agenda"
        try:
            items: list[_AgendaItem] = await self._get(path, list[_AgendaItem])
        except FamilyError as err:
            # The agenda API may not exist on this hub yet: the rest still works.
            _LOGGER.info("agenda not available: %s", err)
            return
        self.model.agenda = [
            AgendaItem(
                str(i.id),
                i.title,
                i.starts_at,
                _AGENDA_KINDS.get(i.kind, "other"),
                invitation=i.status in ("pending", "accepted", "declined"),
                response="pending" if i.status == "pending" else
                ("declined" if i.status == "declined" else "accepted"),
            )
            for i in items
        ]  # fmt: skip
        self.model.changed()

    async def ice_servers(self) -> list[Any]:
        """STUN/TURN servers for calls from the hub (``[]`` if it has none or is away)."""
        from aiortc import RTCIceServer

        try:
            config: _CallConfig = await self._get("/api/family/calls/config", _CallConfig)
        except FamilyError as err:
            _LOGGER.info("no call configuration: %s", err)
            return []
        return [
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in config.ice_servers
        ]

    # ------------------------------------------------------------ sending media

    async def conversation_id(self, contact_id: str) -> int:
        """The conversation with ``contact_id`` (a direct one is created if needed)."""
        if contact_id in self._conversation_of:
            return self._conversation_of[contact_id]
        if contact_id.startswith(GROUP_PREFIX):
            return int(contact_id[2:])
        body = await self._call("POST", "/api/family/conversations", json={"with": contact_id})
        try:
            cid = int(msgspec.json.decode(body)["id"])
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as err:
            raise FamilyError(f"conversation with {contact_id}: unexpected answer") from err
        self._conversation_of[contact_id] = cid
        return cid

    async def upload_media(self, kind: str, data: bytes, content_type: str) -> int:
        """Upload a voice message or photo (``POST /api/family/media``); its media id."""
        body = await self._call(
            "POST", f"/api/family/media?kind={kind}", data=data, content_type=content_type
        )
        try:
            return int(msgspec.json.decode(body)["media_id"])
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as err:
            raise FamilyError(f"upload of a {kind}: unexpected answer") from err

    async def send_media(self, contact_id: str, media_id: int) -> None:
        """Send an uploaded media object as a message to ``contact_id``."""
        cid = await self.conversation_id(contact_id)
        await self._call(
            "POST", f"/api/family/conversations/{cid}/messages", json={"media_id": media_id}
        )

    # ------------------------------------------------------------ FamilyPort

    def mark_read(self, message_ids: tuple[str, ...]) -> None:
        """Read receipts: one ``read`` call per conversation, up to its newest message."""
        newest: dict[int, int] = {}
        for message in self.model.messages:
            if message.id in message_ids and message.contact_id in self._conversation_of:
                cid = self._conversation_of[message.contact_id]
                newest[cid] = max(newest.get(cid, 0), int(message.id))
        for cid, up_to in newest.items():
            self._spawn(
                self._post(f"/api/family/conversations/{cid}/read", {"up_to": up_to}), "read"
            )

    async def _post(self, path: str, body: object) -> None:
        await self._call("POST", path, json=body)

    def respond_invitation(self, item_id: str, accept: bool) -> None:
        """Answer an agenda invitation."""
        answer = "accept" if accept else "decline"
        self._spawn(self._post(f"/api/family/agenda/{item_id}/respond", {"answer": answer}), "rsvp")

    def request_link_code(self, grants: tuple[str, ...] = ()) -> None:
        """Create a linking code granting ``grants`` and show it."""
        self._spawn(self._link_code(grants), "link-code")

    async def _link_code(self, grants: tuple[str, ...]) -> None:
        body = await self._call(
            "POST",
            f"/api/family/residents/{self.resident_id}/linking-codes",
            json={"consent": list(grants)},
        )
        code = msgspec.json.decode(body, type=_LinkCode)
        self.model.link_code = code.code
        self.model.link_expires = code.expires_at
        # What the hub says the code grants is what the screen says.
        self.model.link_granted = known_scopes(code.consent)
        self.model.go(Screen.LINK)

    # ------------------------------------------------------------ my people (consent)

    async def load_circle(self) -> None:
        """Read who is in the resident's circle and what each may see."""
        links: list[_Link] = await self._get(
            f"/api/family/residents/{self.resident_id}/circle", list[_Link]
        )
        self.model.set_circle(
            [
                CircleMember(
                    str(link.link_id),
                    link.member.party,
                    link.member.name,
                    link.relationship,
                    known_scopes(link.consent),
                )
                for link in links
            ]
        )

    async def refresh_circle(self) -> None:
        """Read the circle again, after any change in flight (so a poll never puts back on
        screen what a touch has just changed)."""
        async with self._circle_lock:
            await self.load_circle()

    def request_circle(self) -> None:
        """Load the circle in the background (the My people screen)."""
        self._spawn(self.load_circle(), "circle")

    def change_consent(
        self, link_id: str, scopes: tuple[str, ...], before: CircleMember | None = None
    ) -> None:
        """Save what a member may see; the circle is read again after it, so the screen
        shows what the hub holds (``before`` is put back if the hub cannot be told)."""
        self._spawn(self._change_consent(link_id, scopes, before), "consent")

    async def _change_consent(
        self, link_id: str, scopes: tuple[str, ...], before: CircleMember | None
    ) -> None:
        # One change at a time, in the order touched: two quick taps must not reach the
        # hub the other way round.
        async with self._circle_lock:
            path = f"/api/family/links/{link_id}"
            await self._circle_call("PATCH", path, {"consent": list(scopes)}, before)

    def remove_member(self, link_id: str, before: CircleMember | None = None) -> None:
        """Take a member out of the circle, then refresh the faces and the circle."""
        self._spawn(self._remove_member(link_id, before), "remove")

    async def _remove_member(self, link_id: str, before: CircleMember | None) -> None:
        async with self._circle_lock:
            await self._circle_call("DELETE", f"/api/family/links/{link_id}", None, before)
        await self.refresh()

    async def _circle_call(
        self, method: str, path: str, body: object, before: CircleMember | None
    ) -> None:
        try:
            await self._call(method, path, json=body)
        except FamilyError:
            if before is not None:
                self.model.circle_change_failed(before)
            raise
        await self.load_circle()

    def start_call(
        self,
        contact_id: str,
        call_id: str | None,
        *,
        voice_only: bool = False,
        loud: bool = False,
        announce: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Place a call to ``contact_id`` or answer ``call_id`` (``announce``: awaited
        before the caller is heard)."""
        if self.calls is None or self._ws is None:
            _LOGGER.info("video calls are not available (no call engine or no live link)")
            self.model.call_ended()
            return
        if call_id is not None:
            answer = self.calls.accept(
                int(call_id), voice_only=voice_only, loud=loud, announce=announce
            )
            self._spawn(answer, "call-accept")
        else:
            self._spawn(self.calls.place(contact_id), "call-place")

    def end_call(self, call_id: str | None, declined: bool) -> None:
        """Decline a ringing call or hang up the current one."""
        if self.calls is None:
            return
        if declined and call_id is not None:
            self._spawn(self.calls.decline(int(call_id)), "call-decline")
        else:
            self._spawn(self.calls.hangup(), "call-hangup")

    def call_sound(self, volume: int, muted: bool) -> None:
        """The resident's Louder / Softer / Microphone buttons during a call."""
        if self.calls is None:
            return
        self.calls.set_volume(volume)
        self.calls.set_muted(muted)

    # ------------------------------------------------------------ live events

    async def send_live(self, frame: dict[str, Any]) -> None:
        """Send a frame on the live websocket (call signalling)."""
        if self._ws is None or self._ws.closed:
            raise FamilyError("the live connection to the hub is down")
        await self._ws.send_json(frame)

    async def live(self, retry_s: float = 5.0) -> None:
        """Follow ``/api/family/ws`` forever: new messages, calls and their signalling."""
        linked_before = False
        while True:
            try:
                async with self._http().ws_connect(
                    self.base_url + "/api/family/ws", heartbeat=30, headers=self._headers
                ) as ws:
                    self._ws = ws
                    self.live_connected.set()
                    _LOGGER.info("family live link up")
                    if linked_before:
                        # What came while the link was down (or the hub closed it to make us
                        # refetch, ADR 0181) is shown now, not at the next message.
                        self._spawn(self.refresh(), "refresh")
                    linked_before = True
                    async for msg in ws:
                        if msg.type is aiohttp.WSMsgType.TEXT:
                            await self._on_live(msg.data)
            except (aiohttp.ClientError, TimeoutError) as err:
                _LOGGER.info("family live link down: %r", err)
            finally:
                self._ws = None
                self.live_connected.clear()
            await asyncio.sleep(retry_s)

    async def _on_live(self, raw: str) -> None:
        try:
            frame = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            _LOGGER.warning("live frame is not JSON; ignored")
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        call_id = frame.get("call_id")
        if kind in ("message.new", "message.deleted", "agenda.changed", "agenda.new"):
            self._spawn(self.refresh(), "refresh")
        elif kind == "circle.changed":
            # Changed on another screen or by the centre: show what the hub holds now.
            self._spawn(self.load_circle(), "circle")
            self._spawn(self.refresh(), "refresh")
        elif kind == "call.incoming" and isinstance(call_id, int):
            self._incoming(call_id, frame)
        elif kind == "call.state" and isinstance(call_id, int):
            await self._call_state(call_id, str(frame.get("status")))
        elif kind == "call.signal" and isinstance(call_id, int) and self.calls is not None:
            data = frame.get("data")
            if isinstance(data, dict):
                await self.calls.on_signal(call_id, data)
        elif kind == "ping":
            await self.send_live({"type": "pong"})

    def _incoming(self, call_id: int, frame: dict[str, Any]) -> None:
        caller = frame.get("caller")
        party = caller.get("party") if isinstance(caller, dict) else caller
        name = frame.get("caller_name") or (caller.get("name") if isinstance(caller, dict) else "")
        if not isinstance(party, str):
            return
        if frame.get("kind") == "centre":
            # Only the hub sends "centre" (an operator's call); it is not a family contact.
            alarm = isinstance(frame.get("alarm_ref"), str)
            self.model.incoming_centre_call(str(call_id), party, alarm=alarm)
            return
        if self.model.contact(party) is None:
            self.model.contacts = [*self.model.contacts, Contact(party, str(name or party))]
        self.model.incoming_call(str(call_id), party)

    async def _call_state(self, call_id: int, status: str) -> None:
        model = self.model
        if self.calls is not None:
            await self.calls.on_call_state(call_id, status)
        if status == "ringing" and model.call_state is CallState.CALLING and model.call_id is None:
            model.call_id = str(call_id)
        elif status == "accepted" and model.call_id == str(call_id):
            model.call_connected(str(call_id))
        elif status in ("declined", "missed", "ended") and model.call_id == str(call_id):
            model.call_ended()
