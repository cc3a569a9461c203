"""The tablet's state and behaviour, without Kivy: a view-model tested without a window.

The Kivy layer (``tablet_app.ui``) draws what this model says and calls its methods
when the resident touches something; the link (``tablet_app.link``) feeds it commands
from the hub and carries out its effects. Time is always passed in.

Effects (publish an event, speak a sentence, ring) are collected and drained with
:meth:`TabletModel.take_effects`, so tests can see exactly what a touch causes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from protocol import (
    AlarmReceived,
    CheckIn,
    CommandBody,
    CommandState,
    Configure,
    EventBody,
    MedicationTaken,
    Panic,
    PlayMessage,
    Prompt,
    PromptAnswer,
    PromptWithdrawn,
    Reminder,
    new_message_id,
)
from tablet_app.circle import (
    CIRCLE_PAGE_SIZE,
    SCOPES,
    ChangeConsent,
    CircleMember,
    LoadCircle,
    RemoveMember,
    Scope,
    is_neighbour,
)
from tablet_app.i18n import DEFAULT_LANGUAGE, Lang, addressed_key, translate
from tablet_app.wording import duration_text, local, next_deadline, when_text

_LOGGER = logging.getLogger(__name__)

MAX_HOME_CONTACTS = 6
# Photos on one page of the gallery: one row of three, each as large as the screen allows
# with who sent it and when under it.
GALLERY_PAGE_SIZE = 3
FONT_SCALES = (1.0, 1.25, 1.5)


class Screen(StrEnum):
    """Every screen the resident can see."""

    HOME = "home"
    CHECKIN = "checkin"
    HELP = "help"
    PROMPT = "prompt"
    MESSAGES = "messages"
    CONVERSATION = "conversation"
    PHOTO = "photo"
    VIDEO = "video"  # a video message, full screen
    GALLERY = "gallery"  # every photo the circle sent, newest first, three a page
    CALL = "call"
    AGENDA = "agenda"
    NOTICE = "notice"
    PAIR = "pair"
    LINK = "link"
    CIRCLE = "circle"  # my people: who is in my circle
    MEMBER = "member"  # one person: what they may see, take them out
    MEMBER_REMOVE = "member_remove"  # "are you sure?"
    LINK_GRANT = "link_grant"  # a new person: what the code will let them see


class HelpState(StrEnum):
    """Where a press of Help is."""

    IDLE = "idle"
    SENDING = "sending"  # published, waiting for the centre's AlarmReceived
    WAITING_NETWORK = "waiting_network"  # queued on disk, retrying
    RECEIVED = "received"  # the centre confirmed


class CallState(StrEnum):
    """Where a video call is."""

    IDLE = "idle"
    RINGING = "ringing"  # incoming, not answered yet
    CALLING = "calling"  # outgoing, not answered yet
    TALKING = "talking"
    ENDED = "ended"


class Outgoing(StrEnum):
    """Where the resident's own voice message or photo is."""

    IDLE = "idle"
    RECORDING = "recording"  # the microphone is on
    SENDING = "sending"
    SENT = "sent"
    QUEUED = "queued"  # kept on the tablet; it will be sent later


MAX_RECORDING_S = 120  # a voice message stops and is sent by itself after two minutes
# After the centre's call ends the home screen comes back by itself: the resident may be
# across the room and should not have to walk to the tablet to put it right.
CENTRE_ENDED_HOME_S = 8
GROUP_PREFIX = "g:"  # the contact id of a group conversation: "g:<conversation id>"
# The loudspeaker's steps during a call (tablet_app.audio.VOLUME_GAINS, kept equal by a
# test): the resident starts at the normal one, an alarm call at the loud one.
CALL_VOLUME_STEPS = 5
CALL_VOLUME_NORMAL = 2
CALL_VOLUME_LOUD = 3

PromptResult = Literal["fine", "help", "timeout", "taken", "later"]
# "Remind me later" on a medication reminder shows it again this much later (while the dose
# is still within its grace; after that the hub's own timer decides).
MEDICATION_SNOOZE = timedelta(minutes=10)
MessageKind = Literal["text", "photo", "voice", "video"]
AgendaKind = Literal["visit", "doctor", "group", "medication", "other"]
AGENDA_ROWS = 4  # rows of the Agenda screen
# The hub's setup codes have 8 digits (hub.registry.pairing.CODE_DIGITS, held equal by a
# test; the tablet may not import the hub): the pad shows eight places and takes no more.
SETUP_CODE_DIGITS = 8
AgendaResponse = Literal["pending", "accepted", "declined"]


@dataclass(frozen=True, slots=True)
class Contact:
    """A person of the resident's circle; ``photo`` is a local image file if known."""

    id: str
    name: str
    photo: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation with ``contact_id`` (``outgoing`` if the resident sent it)."""

    id: str
    contact_id: str
    kind: MessageKind
    sent_at: datetime
    text: str = ""
    media: str | None = None
    read: bool = False
    outgoing: bool = False
    sender: str = ""  # who wrote it (a group has several people); "" for the contact


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """An appointment, visit or group activity; invitations can be answered."""

    id: str
    title: str
    starts_at: datetime
    kind: AgendaKind = "other"
    invitation: bool = False
    response: AgendaResponse = "pending"


# ---------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Publish:
    """Send ``body`` to the hub as event ``message_id`` (stored on disk while offline)."""

    message_id: str
    body: EventBody


@dataclass(frozen=True, slots=True)
class Report:
    """Tell the hub what became of its command ``command_id`` (an ``Ack`` with a state,
    docs/adr/0163): shown, postponed until ``until``, acknowledged by the resident."""

    command_id: str
    state: CommandState
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Speak:
    """Say ``text`` aloud in ``language`` (text-to-speech where available)."""

    text: str
    language: Lang


@dataclass(frozen=True, slots=True)
class Ring:
    """Start (``on``) or stop the ring tone."""

    on: bool


@dataclass(frozen=True, slots=True)
class MarkRead:
    """Tell the family service these messages were seen (read receipts)."""

    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StartCall:
    """Place a call to ``contact_id`` (``answer`` an incoming one if ``call_id`` is set)."""

    contact_id: str
    call_id: str | None = None
    voice_only: bool = False  # the centre's calls: no camera
    loud: bool = False  # hands-free at an alarm: start at the loud volume
    # Said before the caller is heard (an alarm call answered by itself): the caller's
    # sound is held back until it has been said, so the two never overlap.
    announce: Speak | None = None


@dataclass(frozen=True, slots=True)
class EndCall:
    """Decline or hang up call ``call_id``."""

    call_id: str | None
    declined: bool = False


@dataclass(frozen=True, slots=True)
class CallSound:
    """Set the call's loudspeaker step and whether the microphone is switched off."""

    volume: int
    muted: bool


@dataclass(frozen=True, slots=True)
class RespondInvitation:
    """Accept or decline an agenda invitation."""

    item_id: str
    accept: bool


@dataclass(frozen=True, slots=True)
class RequestLinkCode:
    """Ask the family service for a new linking code to show, granting ``grants``."""

    grants: tuple[Scope, ...] = ()


@dataclass(frozen=True, slots=True)
class StartRecording:
    """Switch the microphone on for a voice message to ``contact_id``."""

    contact_id: str


@dataclass(frozen=True, slots=True)
class StopRecording:
    """Switch the microphone off and ``send`` the voice message (or throw it away)."""

    send: bool


@dataclass(frozen=True, slots=True)
class TakePhoto:
    """Take a photo with the camera and send it to ``contact_id``."""

    contact_id: str


Effect = (
    Publish
    | Report
    | Speak
    | Ring
    | MarkRead
    | StartCall
    | EndCall
    | CallSound
    | RespondInvitation
    | RequestLinkCode
    | LoadCircle
    | ChangeConsent
    | RemoveMember
    | StartRecording
    | StopRecording
    | TakePhoto
)


@dataclass
class TabletModel:
    """Everything a screen shows, and what each touch does."""

    language: Lang = DEFAULT_LANGUAGE
    # How the hub says the resident is addressed (protocol.ADDRESS_FORMS): ca/es words that
    # take a gender follow it; "unknown" keeps the neutral words.
    address_form: str = "unknown"
    font_scale: float = 1.0
    high_contrast: bool = False
    online: bool = False
    paired: bool = True
    screen: Screen = Screen.HOME
    # Local times of the daily check-in, from the hub's Configure (the resident's care plan);
    # none until the hub says, so the tablet never promises a time the centre does not keep.
    check_in_deadlines: list[time] = field(default_factory=list)
    last_check_in: datetime | None = None
    check_in_queued: bool = False
    help_state: HelpState = HelpState.IDLE
    help_attempts: int = 0
    help_event_id: str | None = None
    prompt: Prompt | None = None
    prompt_result: PromptResult | None = None
    prompt_shown_at: datetime | None = None
    # A medication reminder put off with "remind me later", and when it comes back.
    snoozed: Prompt | None = None
    snoozed_until: datetime | None = None
    contacts: list[Contact] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    open_contact_id: str | None = None
    open_message_id: str | None = None
    call_state: CallState = CallState.IDLE
    call_contact_id: str | None = None
    call_id: str | None = None
    call_centre: bool = False  # the current call is the centre's (voice only)
    call_alarm: bool = False  # ... about an open alarm: answered by itself
    call_volume: int = CALL_VOLUME_NORMAL  # the loudspeaker's step (0 .. STEPS - 1)
    call_muted: bool = False  # the resident switched the microphone off
    call_talking_since: datetime | None = None  # for the call's running time
    agenda: list[AgendaItem] = field(default_factory=list)
    notice_title: str = ""
    notice_text: str = ""
    # The hub's command the notice shows (its acks say shown / acknowledged), if known.
    notice_command_id: str | None = None
    # The centre asked the resident to confirm they read it ("I've read it").
    notice_confirm: bool = False
    # The hub's command of each medication reminder, by prompt id (its acks: shown,
    # postponed until, acknowledged).
    prompt_commands: dict[str, str] = field(default_factory=dict)
    pair_digits: str = ""
    pair_error: str | None = None
    link_code: str | None = None
    link_expires: datetime | None = None
    # What the next linking code will let its person see (chosen on the Link-grant screen),
    # and what the code on screen grants (as the hub confirmed it).
    link_grants: frozenset[Scope] = frozenset()
    link_granted: frozenset[Scope] = frozenset()
    circle: list[CircleMember] = field(default_factory=list)
    open_member_id: str | None = None
    circle_page: int = 0  # which page of My people is shown (CIRCLE_PAGE_SIZE a page)
    video_round: int = 0  # bumped to start the open video (again) from the beginning
    gallery_page: int = 0
    people_page: int = 0  # the page of faces on Messages and Call (six a page)
    agenda_page: int = 0  # the page of the Agenda (four items, or three and the page turner)
    older_steps: int = 0  # how many screenfuls back from the newest messages (0: newest)
    photo_back: Screen = Screen.CONVERSATION  # where "Back" goes from a photo
    circle_not_saved: bool = False  # the last change could not reach the hub
    can_record: bool = False  # a microphone is there: "Record a message" is shown
    can_photo: bool = False  # a camera is there: "Take a photo" is shown
    outgoing: Outgoing = Outgoing.IDLE
    # what the resident last sent, so "not sent yet" can say what was not sent
    outgoing_kind: Literal["voice", "photo"] = "voice"
    recording_started_at: datetime | None = None
    recording_contact_id: str | None = None
    _centre_ended_at: datetime | None = field(default=None, repr=False)
    _read_here: set[str] = field(default_factory=set, repr=False)
    _effects: list[Effect] = field(default_factory=list, repr=False)
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------ plumbing

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change (the UI redraws)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def changed(self) -> None:
        """Tell the listeners that something changed."""
        for listener in list(self._listeners):
            listener()

    def take_effects(self) -> list[Effect]:
        """The effects produced since the last call, oldest first."""
        effects, self._effects = self._effects, []
        return effects

    def t(self, key: str, **values: object) -> str:
        """``key`` in the resident's language."""
        return translate(key, self.language, **values)

    def t_addressed(self, key: str, **values: object) -> str:
        """``key`` in the resident's language and, where it takes a gender, their form."""
        return self.t(addressed_key(key, self.address_form), **values)

    def _emit(self, effect: Effect) -> None:
        self._effects.append(effect)

    def _publish(self, body: EventBody) -> str:
        message_id = new_message_id()
        self._emit(Publish(message_id, body))
        return message_id

    # ------------------------------------------------------------ navigation

    def go(self, screen: Screen) -> None:
        """Show ``screen``; leaving a call screen while ringing is not allowed."""
        if self.call_state is CallState.RINGING and screen is not Screen.CALL:
            return
        if self.outgoing is Outgoing.RECORDING and screen is not Screen.CONVERSATION:
            self._stop_recording(send=False)
        if self.outgoing in (Outgoing.SENT, Outgoing.QUEUED):
            self.outgoing = Outgoing.IDLE  # the last result is not shown again elsewhere
        if screen is Screen.HOME:
            self.open_contact_id = None
            self.open_message_id = None
            self.people_page = 0
            self.agenda_page = 0
            if self.call_state is CallState.ENDED:
                self.call_state = CallState.IDLE
                self.call_contact_id = None
                self.call_centre = self.call_alarm = False
        self.screen = screen
        self.changed()

    def set_language(self, language: Lang) -> None:
        """Switch every text to ``language``."""
        self.language = language
        self.changed()

    def set_online(self, online: bool) -> None:
        """The link tells whether the hub can be reached."""
        if online == self.online:
            return
        self.online = online
        if not online and self.help_state is HelpState.SENDING:
            self.help_state = HelpState.WAITING_NETWORK
            self._say_help_offline()
        elif online and self.help_state is HelpState.WAITING_NETWORK:
            self.help_state = HelpState.SENDING
        self.changed()

    def delivered(self, message_id: str) -> None:
        """The link confirms the broker accepted ``message_id`` (it left the queue)."""
        if message_id == self.help_event_id and self.help_state is HelpState.WAITING_NETWORK:
            self.help_state = HelpState.SENDING
        self.check_in_queued = False
        self.changed()

    def retrying(self) -> None:
        """The link tried again to deliver the queue while offline."""
        if self.help_state is HelpState.WAITING_NETWORK:
            self.help_attempts += 1
            self.changed()

    # ------------------------------------------------------------ check-in and help

    def press_ok(self, now: datetime) -> None:
        """The resident pressed "I'm OK": publish a check-in and show the confirmation."""
        self.last_check_in = now
        self._publish(CheckIn(source="tablet"))
        self.check_in_queued = not self.online
        self.screen = Screen.CHECKIN
        self._emit(Speak(self.t("checkin.title") + " " + self.t("checkin.sent"), self.language))
        self.changed()

    def next_check_in_due(self, now: datetime) -> datetime | None:
        """The next deadline the hub will still check: one the last "I'm OK" does not
        already answer by the hub's rule (ADR 0183); ``None`` without a schedule."""
        return next_deadline(self.check_in_deadlines, now, last_check_in=self.last_check_in)

    def next_check_in(self, now: datetime) -> str | None:
        """When the next check-in is due, in words (``None`` without a schedule)."""
        due = self.next_check_in_due(now)
        return None if due is None else when_text(due, now, self.language)

    def greeting(self, now: datetime) -> str:
        """Good morning / afternoon / evening by the local hour, as people here say it:
        in Catalan and Spanish the morning lasts until lunch (14:00) and the afternoon
        until dinner (21:00); in English until noon and 18:00."""
        hour = local(now).hour
        noon, night = (12, 18) if self.language == "en" else (14, 21)
        if 6 <= hour < noon:
            return self.t("home.greet.morning")
        if noon <= hour < night:
            return self.t("home.greet.afternoon")
        return self.t("home.greet.evening")

    def home_today(self, now: datetime) -> tuple[str, str]:
        """Home's two lines about today: the greeting and whether "I'm OK" was pressed
        today; then the next thing on the agenda (or that there is nothing)."""
        checked_today = self.last_check_in is not None and _same_local_day(self.last_check_in, now)
        done = self.t("checkin.done_today") if checked_today else self.t("home.checkin_due")
        due = self.next_check_in_due(now) if checked_today else None
        if due is not None and _same_local_day(due, now):
            # Said this morning, but the hub still expects another today (the evening's):
            # "already said" alone would tell the resident the day is done.
            done = self.t("home.checkin_again", time=f"{local(due):%H:%M}")
        coming = [i for i in self.agenda_items(now) if i.starts_at >= now]
        second = self.agenda_line(coming[0], now) if coming else self.t("home.nothing_next")
        return f"{self.greeting(now)} {done}", second

    def press_help(self, now: datetime) -> None:
        """The resident pressed Help: publish a panic and show its progress."""
        del now  # the envelope carries the time; kept for a uniform touch API
        if self.help_state in (HelpState.SENDING, HelpState.WAITING_NETWORK):
            # A second press while the first is on its way adds nothing but noise.
            self.screen = Screen.HELP
            self.changed()
            return
        self.help_event_id = self._publish(Panic(source="tablet"))
        self.help_attempts = 1
        self.help_state = HelpState.SENDING if self.online else HelpState.WAITING_NETWORK
        self.screen = Screen.HELP
        if self.help_state is HelpState.WAITING_NETWORK:
            self._say_help_offline()
        else:
            self._emit(Speak(self.t("help.sending"), self.language))
        self.changed()

    def help_lines(self) -> tuple[str, str]:
        """The big line and the small line of the Help screen."""
        if self.help_state is HelpState.RECEIVED:
            return self.t("help.received"), self.t_addressed("help.received_more")
        if self.help_state is HelpState.WAITING_NETWORK:
            # No attempt count: it tells the resident nothing they can act on.
            return self.t("help.offline"), self.t("help.offline_more")
        return self.t("help.sending"), self.t("help.pendant")

    def help_alternatives(self) -> list[tuple[str, str]]:
        """What to do instead while Help cannot reach the centre, as (icon, words); empty
        when Help is not waiting for the network."""
        if self.help_state is not HelpState.WAITING_NETWORK:
            return []
        neighbour = next((p for p in self.circle if is_neighbour(p.relationship)), None)
        knock = (
            self.t("help.alt.neighbour_named", name=neighbour.name, who=neighbour.relationship)
            if neighbour
            else self.t("help.alt.neighbour")
        )
        return [
            ("bell", self.t("help.alt.pendant")),
            ("phone", self.t("help.alt.phone")),
            ("people", knock),
        ]

    def _say_help_offline(self) -> None:
        """Say the offline Help screen aloud: a resident who cannot read it hears it."""
        words = [*self.help_lines(), *(text for _, text in self.help_alternatives())]
        said = " ".join(w if w.endswith((".", ":")) else w + "." for w in words)
        self._emit(Speak(said, self.language))

    # ------------------------------------------------------------ commands from the hub

    def on_command(self, body: CommandBody, now: datetime, command_id: str | None = None) -> None:
        """Apply a command from the hub (``command_id``: its envelope id, which the tablet's
        acks of a message or reminder name)."""
        if isinstance(body, Configure):
            self._configure(body)
        elif isinstance(body, AlarmReceived):
            self.help_state = HelpState.RECEIVED
            self.help_event_id = body.event_id or self.help_event_id
            self.screen = Screen.HELP
            self._emit(Speak(self.t("help.received"), self.language))
        elif isinstance(body, Prompt):
            if command_id is not None and body.kind == "medication":
                self.prompt_commands = {
                    **dict(list(self.prompt_commands.items())[-20:]),
                    body.prompt_id: command_id,
                }
            self._show_prompt(body, now)
        elif isinstance(body, PromptWithdrawn):
            self._withdraw_prompt(body.prompt_id)
        elif isinstance(body, Reminder):
            self._notice(
                self.t("reminder.title"),
                f"{when_text(body.due, now, self.language)}: {body.text}",
                command_id=command_id,
            )
        elif isinstance(body, PlayMessage):
            self._notice(
                self.t("notice.title"),
                body.text,
                language=body.language,
                command_id=command_id,
                speak=body.speak,
                confirm=body.confirm,
            )
        else:
            _LOGGER.debug("command %s needs nothing from the screen", type(body).__name__)
        self.changed()

    def _configure(self, body: Configure) -> None:
        if body.language is not None:
            self.language = body.language
        if body.address_form is not None:
            self.address_form = body.address_form
        if body.check_in_deadlines is not None:
            self.check_in_deadlines = list(body.check_in_deadlines)

    def _notice(
        self,
        title: str,
        text: str,
        *,
        language: Lang | None = None,
        command_id: str | None = None,
        speak: bool = True,
        confirm: bool = False,
    ) -> None:
        self.notice_title, self.notice_text = title, text
        self.notice_command_id = command_id
        # The centre asked for "I've read it" instead of the plain way home.
        self.notice_confirm = confirm
        busy = self.call_state in (CallState.TALKING, CallState.RINGING)
        if not busy and self.prompt is None and self.outgoing is not Outgoing.RECORDING:
            self.screen = Screen.NOTICE
        if speak:
            self._emit(Speak(text, language or self.language))
        if command_id is not None:
            self._emit(Report(command_id, "shown"))  # on the screen if free (and said if asked)

    def close_notice(self) -> None:
        """The resident pressed OK on a message or reminder: the centre hears it was seen."""
        if self.notice_command_id is not None:
            self._emit(Report(self.notice_command_id, "acknowledged"))
            self.notice_command_id = None
        self.notice_confirm = False
        self.go(Screen.HOME)

    def _show_prompt(self, prompt: Prompt, now: datetime) -> None:
        if prompt.expires <= now:
            _LOGGER.warning("prompt %s arrived after it expired; not shown", prompt.prompt_id)
            return
        if self.outgoing is Outgoing.RECORDING:
            self._stop_recording(send=False)
        self.prompt = prompt
        self.prompt_result = None
        self.prompt_shown_at = now
        # Safety first: a prompt takes the screen even from a call.
        self.screen = Screen.PROMPT
        said = f"{self.prompt_question()} {self.prompt_countdown(now)}"
        self._emit(Speak(said, self.language))
        command_id = self.prompt_commands.get(prompt.prompt_id)
        if command_id is not None:
            self._emit(Report(command_id, "shown"))

    def _withdraw_prompt(self, prompt_id: str) -> None:
        """The hub withdrew a medication reminder: the pill dispenser confirmed its dose
        (docs/adr/0174). It leaves the screen, is not brought back if put off, and the
        centre hears it acknowledged; the dose is not confirmed a second time from here. A
        reminder the resident already answered "I've taken it", or one not known (expired,
        never arrived), changes nothing."""
        current = self.prompt is not None and self.prompt.prompt_id == prompt_id
        snoozed = self.snoozed is not None and self.snoozed.prompt_id == prompt_id
        if current and self.prompt_result == "taken":
            return
        if snoozed:
            self.snoozed = self.snoozed_until = None
        if current:
            self.prompt = None
            self.prompt_result = None
            if self.screen is Screen.PROMPT:
                self.go(Screen.HOME)
        command_id = self.prompt_commands.get(prompt_id)
        if (current or snoozed) and command_id is not None:
            self._emit(Report(command_id, "acknowledged"))

    def prompt_question(self) -> str:
        """The question of the current prompt."""
        if self.prompt is None:
            return ""
        if self.prompt.kind == "medication":
            if self.prompt.schedule:
                return self.t("prompt.medication", schedule=self.prompt.schedule)
            return self.t("prompt.medication_any")
        return self.t(f"prompt.{self.prompt.kind}")

    def _is_medication(self) -> bool:
        return self.prompt is not None and self.prompt.kind == "medication"

    def prompt_buttons(self) -> tuple[str, str]:
        """Labels of the "fine" and the "help" buttons."""
        if self.prompt is not None and self.prompt.kind == "medication":
            return self.t("prompt.med_yes"), self.t("prompt.med_no")
        return self.t("prompt.fine"), self.t("prompt.help")

    def prompt_seconds_left(self, now: datetime) -> float:
        """Seconds before the prompt expires and the alarm goes ahead."""
        if self.prompt is None or self.prompt_result is not None:
            return 0.0
        return max(0.0, (self.prompt.expires - now).total_seconds())

    def prompt_countdown(self, now: datetime) -> str:
        """The time left to answer and what happens then ("" once answered or timed out)."""
        if self.prompt is None or self.prompt_result is not None:
            return ""
        time_left = duration_text(self.prompt_seconds_left(now), self.language)
        key = "prompt.med_countdown" if self._is_medication() else "prompt.countdown"
        return self.t(key, time=time_left)

    def prompt_time_left(self, now: datetime) -> float:
        """Share of the prompt's time still left, 1.0 → 0.0 (for a calm time bar)."""
        if self.prompt is None or self.prompt_shown_at is None:
            return 0.0
        total = (self.prompt.expires - self.prompt_shown_at).total_seconds()
        return 0.0 if total <= 0 else min(1.0, self.prompt_seconds_left(now) / total)

    def answer_prompt(self, answer: Literal["fine", "help"], now: datetime) -> None:
        """The resident answered the prompt; a late answer is still sent (the hub decides).

        A medication reminder's buttons are "I've taken it" (``fine``: ``MedicationTaken``
        for the dose) and "Remind me later" (``help``: shown again after MEDICATION_SNOOZE;
        nothing is sent, so the dose is missed if never confirmed).
        """
        if self.prompt is None or self.prompt_result is not None:
            return
        if self._is_medication():
            self._answer_medication(self.prompt, answer, now)
            return
        self._publish(PromptAnswer(prompt_id=self.prompt.prompt_id, answer=answer))
        self.prompt_result = answer
        key = "prompt.thanks_fine" if answer == "fine" else "prompt.thanks_help"
        self._emit(Speak(self.t(key), self.language))
        self.changed()

    def _answer_medication(
        self, prompt: Prompt, answer: Literal["fine", "help"], now: datetime
    ) -> None:
        command_id = self.prompt_commands.get(prompt.prompt_id)
        if answer == "fine":
            self._publish(MedicationTaken(schedule=prompt.schedule or "medication"))
            self.prompt_result = "taken"
            self.snoozed = self.snoozed_until = None
            self._emit(Speak(self.t("prompt.med_thanks"), self.language))
            if command_id is not None:
                self._emit(Report(command_id, "acknowledged"))
        else:
            self.prompt_result = "later"
            again = now + MEDICATION_SNOOZE
            if again < prompt.expires:
                self.snoozed, self.snoozed_until = prompt, again
            self._emit(Speak(self.t("prompt.med_later"), self.language))
            if command_id is not None:
                # The centre sees it put off, and when it rings again (none: not before it
                # expires, so the dose will count as missed unless confirmed).
                until = again if again < prompt.expires else None
                self._emit(Report(command_id, "postponed", until))
        self.changed()

    def prompt_result_text(self) -> str:
        """What the prompt screen says once answered or timed out."""
        medication = self._is_medication()
        return {
            "fine": self.t("prompt.thanks_fine"),
            "help": self.t("prompt.thanks_help"),
            "timeout": self.t("prompt.med_timeout" if medication else "prompt.timeout"),
            "taken": self.t("prompt.med_thanks"),
            "later": self.t("prompt.med_later"),
            None: "",
        }[self.prompt_result]

    def close_prompt(self) -> None:
        """Leave the answered (or timed-out) prompt."""
        self.prompt = None
        self.prompt_result = None
        self.go(Screen.HOME)

    def tick(self, now: datetime) -> None:
        """Called every second: expire the prompt, end a recording that is too long, leave
        the screen of an ended call of the centre."""
        if self.outgoing is Outgoing.RECORDING and self.recording_seconds(now) >= MAX_RECORDING_S:
            self._stop_recording(send=True)
        if self.prompt is not None and self.prompt_result is None and now >= self.prompt.expires:
            self.prompt_result = "timeout"
            self._emit(Speak(self.prompt_result_text(), self.language))
            self.changed()
        if (
            self.snoozed is not None
            and self.snoozed_until is not None
            and now >= self.snoozed_until
        ):
            again, self.snoozed, self.snoozed_until = self.snoozed, None, None
            self._show_prompt(again, now)
            self.changed()
        if self.call_state is not CallState.TALKING:
            self.call_talking_since = None
        elif self.call_talking_since is None:
            self.call_talking_since = now  # the call got through since the last second
        if not (self.call_centre and self.call_state is CallState.ENDED):
            self._centre_ended_at = None
        elif self._centre_ended_at is None:
            self._centre_ended_at = now
        elif (now - self._centre_ended_at).total_seconds() >= CENTRE_ENDED_HOME_S:
            self._centre_ended_at = None
            if self.screen is Screen.CALL:
                self.go(Screen.HOME)

    # ------------------------------------------------------------ messages

    def contact(self, contact_id: str | None) -> Contact | None:
        """The contact with ``contact_id``, if known."""
        return next((c for c in self.contacts if c.id == contact_id), None)

    def unread_count(self, contact_id: str | None = None) -> int:
        """Unread incoming messages (of one contact, or all)."""
        return sum(
            1
            for m in self.messages
            if not m.read and not m.outgoing and contact_id in (None, m.contact_id)
        )

    def conversations(self) -> list[Contact]:
        """Contacts with messages, most recent first."""
        last: dict[str, datetime] = {}
        for m in self.messages:
            if m.contact_id not in last or m.sent_at > last[m.contact_id]:
                last[m.contact_id] = m.sent_at
        known = [c for c in self.contacts if c.id in last]
        return sorted(known, key=lambda c: last[c.id], reverse=True)

    def relationship(self, contact_id: str | None) -> str:
        """How the person is related to the resident, as typed when they were linked
        ("daughter", "veïna"); "" if not known (or a group)."""
        member = next((p for p in self.circle if p.party == contact_id), None)
        return member.relationship.strip() if member is not None else ""

    def contact_title(self, contact_id: str | None) -> str:
        """The person's name and, where known, how they are related: "Maria (daughter)"."""
        who = self.contact(contact_id)
        if who is None:
            return ""
        related = self.relationship(contact_id)
        return f"{who.name} ({related})" if related else who.name

    def sender_name(self, message: Message) -> str:
        """Who wrote ``message`` (not the resident): its sender, else the contact."""
        if message.sender:
            return message.sender
        who = self.contact(message.contact_id)
        return who.name if who is not None else ""

    def conversation(self, contact_id: str) -> list[Message]:
        """Messages with ``contact_id``, oldest first."""
        return sorted(
            (m for m in self.messages if m.contact_id == contact_id), key=lambda m: m.sent_at
        )

    def open_conversation(self, contact_id: str) -> None:
        """Show the messages of ``contact_id`` and mark them read."""
        self.open_contact_id = contact_id
        self.older_steps = 0
        unread = tuple(
            m.id
            for m in self.messages
            if m.contact_id == contact_id and not m.read and not m.outgoing
        )
        if unread:
            self._read_here.update(unread)
            self.messages = [replace(m, read=True) if m.id in unread else m for m in self.messages]
            self._emit(MarkRead(unread))
        self.go(Screen.CONVERSATION)

    def set_family(self, contacts: list[Contact], messages: list[Message]) -> None:
        """Replace the circle and its messages with what the family service says.

        Messages read on this tablet stay read even if the service has not stored the
        receipt yet, so a badge never comes back after the resident looked.
        """
        messages = [
            replace(m, read=True) if m.id in self._read_here and not m.read else m for m in messages
        ]
        if contacts == self.contacts and messages == self.messages:
            return
        self.contacts = contacts
        self.messages = messages
        self.changed()

    # ------------------------------------------------------------ the resident's messages

    def press_record(self, now: datetime) -> None:
        """The "Record a message" button: the first press starts, the second stops and sends."""
        if self.outgoing is Outgoing.RECORDING:
            self._stop_recording(send=True)
            return
        if not self.can_record or self.open_contact_id is None:
            return
        if self.outgoing is Outgoing.SENDING:
            return  # the previous one is still on its way; one thing at a time
        self.outgoing = Outgoing.RECORDING
        self.outgoing_kind = "voice"
        self.recording_started_at = now
        self.recording_contact_id = self.open_contact_id
        self._emit(StartRecording(self.open_contact_id))
        self.changed()

    def cancel_recording(self) -> None:
        """The "Cancel" button while recording: nothing is sent."""
        if self.outgoing is Outgoing.RECORDING:
            self._stop_recording(send=False)

    def _stop_recording(self, *, send: bool) -> None:
        self._emit(StopRecording(send=send))
        self.outgoing = Outgoing.SENDING if send else Outgoing.IDLE
        self.recording_started_at = None
        self.changed()

    def recording_seconds(self, now: datetime) -> int:
        """Whole seconds since the recording started (0 when not recording)."""
        if self.outgoing is not Outgoing.RECORDING or self.recording_started_at is None:
            return 0
        return max(0, int((now - self.recording_started_at).total_seconds()))

    def recording_label(self, now: datetime) -> str:
        """``Recording… 0:12`` and what to do next, for the big button."""
        seconds = self.recording_seconds(now)
        clock = f"{seconds // 60}:{seconds % 60:02d}"
        return self.t("record.recording", time=clock) + "\n" + self.t("record.press_to_send")

    def press_photo(self) -> None:
        """The "Take a photo" button: take one and send it to the open conversation."""
        if not self.can_photo or self.open_contact_id is None:
            return
        if self.outgoing in (Outgoing.RECORDING, Outgoing.SENDING):
            return
        self.outgoing = Outgoing.SENDING
        self.outgoing_kind = "photo"
        self._emit(TakePhoto(self.open_contact_id))
        self.changed()

    def outgoing_done(self, *, sent: bool | None) -> None:
        """The voice message or photo was delivered (``True``), kept on the tablet for
        later (``False``), or there was nothing to send (``None``)."""
        if self.outgoing is Outgoing.RECORDING:
            return  # a new recording already started; it has its own outcome
        if sent is None:
            self.outgoing = Outgoing.IDLE
        else:
            self.outgoing = Outgoing.SENT if sent else Outgoing.QUEUED
        self.changed()

    def outgoing_line(self) -> str:
        """What the conversation says about the resident's last message (or nothing)."""
        return {
            Outgoing.SENDING: self.t("outgoing.sending"),
            Outgoing.SENT: self.t("outgoing.sent"),
            Outgoing.QUEUED: self.t(f"outgoing.queued.{self.outgoing_kind}"),
        }.get(self.outgoing, "")

    def ask_link_code(self) -> None:
        """Show the linking-code screen and ask for a fresh code granting ``link_grants``."""
        self.link_code = None
        self.link_expires = None
        self.link_granted = self.link_grants
        self._emit(RequestLinkCode(tuple(s for s in SCOPES if s in self.link_grants)))
        self.go(Screen.LINK)

    # ------------------------------------------------------------ my people (consent)

    def open_circle(self) -> None:
        """Show the resident's people, read afresh from the family service."""
        self.circle_not_saved = False
        self.circle_page = 0
        self._emit(LoadCircle())
        self.go(Screen.CIRCLE)

    def circle_pages(self) -> int:
        """How many pages My people has (at least one, even when empty)."""
        return max(1, -(-len(self.circle) // CIRCLE_PAGE_SIZE))

    def circle_on_page(self) -> list[CircleMember]:
        """The people on the page shown (the page is kept within the circle's pages)."""
        page = min(self.circle_page, self.circle_pages() - 1)
        return self.circle[page * CIRCLE_PAGE_SIZE : (page + 1) * CIRCLE_PAGE_SIZE]

    def turn_circle_page(self, step: int) -> None:
        """Show the next (``1``) or previous (``-1``) page of My people."""
        page = min(max(0, self.circle_page + step), self.circle_pages() - 1)
        if page != self.circle_page:
            self.circle_page = page
            self.changed()

    def set_circle(self, members: list[CircleMember]) -> None:
        """The circle as the family service says (someone taken out elsewhere disappears)."""
        if members == self.circle:
            return
        self.circle = members
        # Someone taken out on the last page: stay on what is now the last page.
        self.circle_page = min(self.circle_page, self.circle_pages() - 1)
        if self.open_member() is None and self.screen in (Screen.MEMBER, Screen.MEMBER_REMOVE):
            self.open_member_id = None
            self.screen = Screen.CIRCLE
        self.changed()

    def open_member(self) -> CircleMember | None:
        """The person whose screen is open, if any."""
        return next((m for m in self.circle if m.link_id == self.open_member_id), None)

    def show_member(self, link_id: str) -> None:
        """Open one person's screen: what they may see."""
        self.open_member_id = link_id
        self.go(Screen.MEMBER)

    def toggle_scope(self, scope: Scope) -> None:
        """Let the open person see ``scope``, or no longer (saved at once)."""
        member = self.open_member()
        if member is None:
            return
        scopes = member.scopes ^ {scope}
        self.circle_not_saved = False
        self.circle = [replace(m, scopes=scopes) if m is member else m for m in self.circle]
        chosen = tuple(s for s in SCOPES if s in scopes)
        self._emit(ChangeConsent(member.link_id, chosen, before=member))
        self.changed()

    def ask_remove_member(self) -> None:
        """Ask "are you sure?" before taking the open person out."""
        if self.open_member() is not None:
            self.go(Screen.MEMBER_REMOVE)

    def remove_member(self) -> None:
        """Take the open person out of the circle (after "yes")."""
        member = self.open_member()
        if member is None:
            return
        self.circle = [m for m in self.circle if m is not member]
        self.circle_page = min(self.circle_page, self.circle_pages() - 1)
        self.open_member_id = None
        self.circle_not_saved = False
        self._emit(RemoveMember(member.link_id, before=member))
        self.go(Screen.CIRCLE)

    def circle_change_failed(self, before: CircleMember) -> None:
        """The hub could not be told: show the person as they still are there, and say so
        (what the screen shows must never be more private than what the hub does)."""
        if any(m.link_id == before.link_id for m in self.circle):
            self.circle = [before if m.link_id == before.link_id else m for m in self.circle]
        else:
            self.circle = [*self.circle, before]
        self.circle_not_saved = True
        self.changed()

    def start_new_link(self) -> None:
        """ "Add someone": choose what the new person may see, then make the code."""
        self.link_grants = frozenset()
        self.go(Screen.LINK_GRANT)

    def toggle_grant(self, scope: Scope) -> None:
        """Add or take away ``scope`` from what the next code grants."""
        self.link_grants = self.link_grants ^ {scope}
        self.changed()

    def scope_text(self, scope: Scope, name: str | None = None) -> str:
        """What a choice means, in the resident's words, about ``name`` (the new person)."""
        return self.t(f"circle.scope.{scope}", name=name or self.t("circle.new.person"))

    def open_photo(self, message_id: str, back: Screen = Screen.CONVERSATION) -> None:
        """Show a photo message full screen (``back``: where its Back button goes)."""
        self.open_message_id = message_id
        self.photo_back = back
        self.go(Screen.PHOTO)

    def gallery_photos(self) -> list[Message]:
        """Every photo received or sent that is on the tablet, newest first."""
        photos = [x for x in self.messages if x.kind == "photo" and x.media]
        return sorted(photos, key=lambda x: x.sent_at, reverse=True)

    def gallery_pages(self) -> int:
        """How many pages the gallery has (at least one)."""
        return max(1, -(-len(self.gallery_photos()) // GALLERY_PAGE_SIZE))

    def gallery_on_page(self) -> list[Message]:
        """The photos of the page shown."""
        page = min(self.gallery_page, self.gallery_pages() - 1)
        return self.gallery_photos()[page * GALLERY_PAGE_SIZE : (page + 1) * GALLERY_PAGE_SIZE]

    def open_gallery(self) -> None:
        """The photos of everyone, from the newest."""
        self.gallery_page = 0
        self.go(Screen.GALLERY)

    def turn_gallery_page(self, step: int) -> None:
        """The next (``1``) or previous (``-1``) page of photos."""
        page = min(max(0, self.gallery_page + step), self.gallery_pages() - 1)
        if page != self.gallery_page:
            self.gallery_page = page
            self.changed()

    def open_video(self, message_id: str) -> None:
        """Play a video message full screen (the app starts the player)."""
        self.open_message_id = message_id
        self.video_round += 1
        self.go(Screen.VIDEO)

    def replay_video(self) -> None:
        """ "Play again": the same video from the start."""
        self.video_round += 1
        self.changed()

    def add_message(self, message: Message) -> None:
        """A new message arrived (duplicates by id are ignored)."""
        if any(m.id == message.id for m in self.messages):
            return
        self.messages.append(message)
        self.changed()

    # ------------------------------------------------------------ calls

    def callable_contacts(self) -> list[Contact]:
        """Everyone who can be called: the people, not the group conversations."""
        return [c for c in self.contacts if not c.id.startswith(GROUP_PREFIX)]

    def call_contacts(self) -> list[Contact]:
        """The faces on the Call screen's page shown (six a page, each a big button)."""
        return self.on_people_page(self.callable_contacts())

    def turn_conversation(self, step: int) -> None:
        """Older (``1``) or newer (``-1``) messages of the open conversation; the screen
        keeps the number of screenfuls within what there is."""
        self.older_steps = max(0, self.older_steps + step)
        self.changed()

    def on_people_page(self, people: list[Contact]) -> list[Contact]:
        """The six of ``people`` on the page shown (kept within their pages)."""
        page = min(self.people_page, self.people_pages(len(people)) - 1)
        return people[page * MAX_HOME_CONTACTS : (page + 1) * MAX_HOME_CONTACTS]

    @staticmethod
    def people_pages(count: int) -> int:
        """How many pages ``count`` faces take (at least one)."""
        return max(1, -(-count // MAX_HOME_CONTACTS))

    def turn_people_page(self, count: int, step: int) -> None:
        """The next (``1``) or previous (``-1``) page of ``count`` faces."""
        page = min(max(0, self.people_page + step), self.people_pages(count) - 1)
        if page != self.people_page:
            self.people_page = page
            self.changed()

    def call_contact(self, contact_id: str) -> None:
        """The resident tapped a face: place a call."""
        if self.call_state not in (CallState.IDLE, CallState.ENDED):
            return
        self.call_state = CallState.CALLING
        self.call_contact_id = contact_id
        self.call_id = None
        self.call_centre = self.call_alarm = False
        self._fresh_sound(loud=False)
        self._emit(StartCall(contact_id))
        self.go(Screen.CALL)

    def incoming_call(self, call_id: str, contact_id: str) -> None:
        """A family member calls: ring and show their face."""
        if self.call_state in (CallState.TALKING, CallState.CALLING, CallState.RINGING):
            _LOGGER.info("busy: call %s not shown", call_id)
            return
        if self.outgoing is Outgoing.RECORDING:
            self._stop_recording(send=False)  # the call needs the microphone
        self.call_state = CallState.RINGING
        self.call_contact_id = contact_id
        self.call_id = call_id
        self.call_centre = self.call_alarm = False
        self._emit(Ring(on=True))
        if self.prompt is None:
            self.screen = Screen.CALL
        self.changed()

    def incoming_centre_call(self, call_id: str, contact_id: str, *, alarm: bool) -> None:
        """The centre calls. About an open alarm it is answered at once, hands-free:
        the resident may be on the floor, out of reach of the screen. Without an alarm
        (a wellbeing call) it rings like any call and one tap answers it."""
        if not alarm:
            if self.call_state in (CallState.TALKING, CallState.CALLING, CallState.RINGING):
                _LOGGER.info("busy: centre call %s not shown", call_id)
                return
            self.incoming_call(call_id, contact_id)
            self.call_centre = True
            self.changed()
            return
        if self.call_state is CallState.RINGING:
            self._emit(Ring(on=False))
        # A family call in progress was ended by the hub for this one; the call engine
        # closes its connection before it answers (no EndCall: it could race the answer).
        if self.outgoing is Outgoing.RECORDING:
            self._stop_recording(send=False)  # the call needs the microphone
        self.call_state = CallState.TALKING
        self.call_contact_id = contact_id
        self.call_id = call_id
        self.call_centre = self.call_alarm = True
        self._fresh_sound(loud=True)
        announce = Speak(self.t("call.centre_announce"), self.language)
        self._emit(
            StartCall(contact_id, call_id=call_id, voice_only=True, loud=True, announce=announce)
        )
        self.screen = Screen.CALL
        self.changed()

    def answer_call(self) -> None:
        """Answer the ringing call."""
        if self.call_state is not CallState.RINGING or self.call_contact_id is None:
            return
        self._emit(Ring(on=False))
        self._emit(
            StartCall(self.call_contact_id, call_id=self.call_id, voice_only=self.call_centre)
        )
        self._fresh_sound(loud=False)
        self.call_state = CallState.TALKING
        self.changed()

    def _fresh_sound(self, *, loud: bool) -> None:
        """A new call starts with the microphone on at the normal (or loud) step, as the
        call engine does."""
        self.call_volume = CALL_VOLUME_LOUD if loud else CALL_VOLUME_NORMAL
        self.call_muted = False
        self.call_talking_since = None

    def call_louder(self) -> None:
        """The "Louder" button during a call (nothing past the loudest step)."""
        self._set_call_sound(min(CALL_VOLUME_STEPS - 1, self.call_volume + 1), self.call_muted)

    def call_softer(self) -> None:
        """The "Softer" button during a call (nothing past the softest step)."""
        self._set_call_sound(max(0, self.call_volume - 1), self.call_muted)

    def toggle_microphone(self) -> None:
        """Switch the microphone off (the other side hears nothing) or on again."""
        self._set_call_sound(self.call_volume, not self.call_muted)

    def call_volume_set_remotely(self, volume: int) -> None:
        """The operator made the call louder or softer from the console: the call engine
        already plays at ``volume``; the screen shows it (no CallSound back to the engine)."""
        if self.call_state is not CallState.TALKING:
            return
        volume = max(0, min(CALL_VOLUME_STEPS - 1, volume))
        if volume != self.call_volume:
            self.call_volume = volume
            self.changed()

    def _set_call_sound(self, volume: int, muted: bool) -> None:
        if self.call_state is not CallState.TALKING:
            return
        if (volume, muted) == (self.call_volume, self.call_muted):
            return
        self.call_volume, self.call_muted = volume, muted
        self._emit(CallSound(volume, muted))
        self.changed()

    def call_duration(self, now: datetime) -> str:
        """How long the call has lasted, ``4:07`` (``1:02:05`` past an hour; "" when
        not talking)."""
        if self.call_state is not CallState.TALKING or self.call_talking_since is None:
            return ""
        seconds = max(0, int((now - self.call_talking_since).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        clock = f"{rest // 60}:{rest % 60:02d}"
        return f"{hours}:{clock.zfill(5)}" if hours else clock

    def decline_call(self) -> None:
        """Decline the ringing call, or hang up the current one."""
        if self.call_state is CallState.RINGING:
            self._emit(Ring(on=False))
            self._emit(EndCall(self.call_id, declined=True))
            self.call_state = CallState.IDLE
            self.call_contact_id = None
            self.call_centre = self.call_alarm = False
            self.go(Screen.HOME)
        elif self.call_state in (CallState.CALLING, CallState.TALKING):
            self._emit(EndCall(self.call_id))
            self.call_state = CallState.ENDED
            self.changed()

    def call_connected(self, call_id: str) -> None:
        """The other side answered our call."""
        if self.call_state is CallState.CALLING:
            self.call_id = call_id
            self.call_state = CallState.TALKING
            self.changed()

    def call_ended(self) -> None:
        """The call engine reports the call is over (hung up, missed or failed)."""
        if self.call_state is CallState.RINGING:
            self._emit(Ring(on=False))
        if self.call_state is not CallState.IDLE:
            self.call_state = CallState.ENDED
            self.changed()

    def call_headline(self) -> str:
        """The big line of the call screen."""
        if self.call_centre and self.call_state is CallState.RINGING:
            return self.t("call.centre_incoming")
        if self.call_centre and self.call_state is CallState.TALKING:
            return self.t("call.centre_talking")
        who = self.contact(self.call_contact_id)
        name = who.name if who else ""
        return {
            CallState.RINGING: self.t("call.incoming", name=name),
            CallState.CALLING: self.t("call.calling", name=name),
            CallState.TALKING: self.t("call.talking", name=name),
            CallState.ENDED: self.t("call.ended"),
            CallState.IDLE: self.t("call.title"),
        }[self.call_state]

    # ------------------------------------------------------------ agenda

    def agenda_items(self, now: datetime) -> list[AgendaItem]:
        """Today's and the coming items, soonest first (past ones of today stay visible)."""
        start_of_day = _local_midnight(now)
        return sorted(
            (i for i in self.agenda if i.starts_at >= start_of_day and i.response != "declined"),
            key=lambda i: i.starts_at,
        )

    @staticmethod
    def agenda_per_page(count: int) -> int:
        """Four items fill the Agenda; past four, three a page leave room for the page
        turner (the review found a fifth item silently left out)."""
        return AGENDA_ROWS if count <= AGENDA_ROWS else AGENDA_ROWS - 1

    def agenda_pages(self, now: datetime) -> int:
        """How many pages the Agenda's items take (at least one)."""
        count = len(self.agenda_items(now))
        return max(1, -(-count // self.agenda_per_page(count)))

    def agenda_on_page(self, now: datetime) -> tuple[int, list[AgendaItem]]:
        """The page shown (kept within the pages there are) and its items."""
        items = self.agenda_items(now)
        size = self.agenda_per_page(len(items))
        page = min(self.agenda_page, self.agenda_pages(now) - 1)
        return page, items[page * size : (page + 1) * size]

    def turn_agenda_page(self, now: datetime, step: int) -> None:
        """Later (``1``) or earlier (``-1``) items."""
        page = min(max(0, self.agenda_page + step), self.agenda_pages(now) - 1)
        if page != self.agenda_page:
            self.agenda_page = page
            self.changed()

    def agenda_line(self, item: AgendaItem, now: datetime) -> str:
        """``Tomorrow at 10:00: Maria visits``."""
        when = when_text(item.starts_at, now, self.language)
        return f"{when[:1].upper()}{when[1:]}: {item.title}"

    def respond_invitation(self, item_id: str, accept: bool) -> None:
        """Accept or decline an invitation."""
        response: AgendaResponse = "accepted" if accept else "declined"
        self.agenda = [
            replace(i, response=response) if i.id == item_id and i.invitation else i
            for i in self.agenda
        ]
        self._emit(RespondInvitation(item_id, accept))
        self.changed()

    # ------------------------------------------------------------ pairing

    def pair_press(self, digit: str) -> None:
        """A digit of the setup code (at most :data:`SETUP_CODE_DIGITS`)."""
        if digit.isdigit() and len(digit) == 1 and len(self.pair_digits) < SETUP_CODE_DIGITS:
            self.pair_digits += digit
            self.pair_error = None
            self.changed()

    def pair_erase(self) -> None:
        """Remove the last digit."""
        self.pair_digits = self.pair_digits[:-1]
        self.pair_error = None
        self.changed()


def _same_local_day(a: datetime, b: datetime) -> bool:
    return local(a).date() == local(b).date()


def _local_midnight(now: datetime) -> datetime:
    here = local(now)
    return here.replace(hour=0, minute=0, second=0, microsecond=0)
