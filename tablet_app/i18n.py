"""Every word the tablet shows or speaks, in Catalan, Spanish and English.

Short sentences in plain words: the reader may be 85, with poor sight and no
experience with computers. ``translate`` never fails on a missing key: it logs and
falls back to English, then to the key itself, so a screen is never blank.
"""

from __future__ import annotations

import logging
from typing import Final

from protocol.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalog, MissingTranslation
from protocol.i18n import Language as Lang

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Lang",
    "addressed_key",
    "is_language",
    "keys",
    "translate",
]

_LOGGER = logging.getLogger(__name__)

# key -> (ca, es, en)
_TEXT: Final[dict[str, tuple[str, str, str]]] = {
    # home
    "home.ok": ("Estic bé", "Estoy bien", "I'm OK"),
    "home.help": ("Ajuda", "Ayuda", "Help"),
    "home.messages": ("Missatges", "Mensajes", "Messages"),
    "home.call": ("Trucar", "Llamar", "Call"),
    "home.agenda": ("Agenda", "Agenda", "Agenda"),
    "home.back": ("Inici", "Inicio", "Home"),
    "nav.back": ("Enrere", "Atrás", "Back"),
    # status line
    "status.online": ("Connectat", "Conectado", "Connected"),
    # Says what waits and for what: "we will send it when it returns" had no "it".
    "status.offline": (
        "Sense connexió: el que envieu s'enviarà en tornar.",
        "Sin conexión: lo que envíe saldrá al volver.",
        "No connection: what you send goes when it is back.",
    ),
    # Home: a greeting and what today holds, above the buttons.
    "home.greet.morning": ("Bon dia!", "¡Buenos días!", "Good morning!"),
    "home.greet.afternoon": ("Bona tarda!", "¡Buenas tardes!", "Good afternoon!"),
    "home.greet.evening": ("Bona nit!", "¡Buenas noches!", "Good evening!"),
    "home.checkin_due": (
        "Avui encara no heu dit que esteu bé.",
        "Hoy aún no ha dicho que está bien.",
        "You have not said you are OK today yet.",
    ),
    "home.nothing_next": (
        "No teniu res més a l'agenda.",
        "No tiene nada más en la agenda.",
        "Nothing else on your agenda.",
    ),
    # check-in
    "checkin.title": ("Gràcies!", "¡Gracias!", "Thank you!"),
    "checkin.sent": (
        "La central ja sap que esteu bé.",
        "La central ya sabe que está bien.",
        "The centre knows you are well.",
    ),
    "checkin.queued": (
        "Guardat. S'enviarà quan torni la connexió.",
        "Guardado. Se enviará cuando vuelva la conexión.",
        "Saved. It will be sent when the connection returns.",
    ),
    "checkin.next": (
        "Proper avís: {when}",
        "Próximo aviso: {when}",
        "Next check-in: {when}",
    ),
    "home.checkin_again": (
        "Torneu a dir que esteu bé abans de les {time}.",
        "Repita que está bien antes de las {time}.",
        "Say you are OK again before {time}.",
    ),
    "checkin.done_today": (
        "Avui ja heu dit que esteu bé.",
        "Hoy ya ha dicho que está bien.",
        "You already said you are OK today.",
    ),
    # help
    "help.title": ("Ajuda", "Ayuda", "Help"),
    "help.sending": (
        "Estem avisant la central…",
        "Estamos avisando a la central…",
        "Calling the centre…",
    ),
    "help.received": (
        "La central ha rebut la vostra trucada.",
        "La central ha recibido su llamada.",
        "The centre has received your call.",
    ),
    # "Stay calm" takes the resident's gender in ca/es: the hub sends how they are addressed
    # (Configure.address_form); neutral, or not stated, keeps words that need no gender.
    "help.received_more": (
        "No patiu. Us parlaran de seguida.",
        "No se preocupe. Le hablarán enseguida.",
        "Do not worry. They will talk to you now.",
    ),
    "help.received_more.feminine": (
        "Estigueu tranquil·la. Us parlaran de seguida.",
        "Esté tranquila. Le hablarán enseguida.",
        "Stay calm. They will talk to you now.",
    ),
    "help.received_more.masculine": (
        "Estigueu tranquil. Us parlaran de seguida.",
        "Esté tranquilo. Le hablarán enseguida.",
        "Stay calm. They will talk to you now.",
    ),
    # Help cannot reach the centre: say what to do instead, in the order that is quickest.
    "help.offline": (
        "Ara no podem avisar la central.",
        "Ahora no podemos avisar a la central.",
        "We cannot reach the centre now.",
    ),
    "help.offline_more": (
        "Ho seguim provant. Mentrestant:",
        "Lo seguimos intentando. Mientras tanto:",
        "We keep trying. Meanwhile:",
    ),
    "help.alt.pendant": (
        "Premeu el botó del penjoll",
        "Pulse el botón del colgante",
        "Press your pendant button",
    ),
    "help.alt.phone": (
        "Truqueu al 112 des d'un telèfon",
        "Llame al 112 desde un teléfono",
        "Call 112 from a phone",
    ),
    "help.alt.neighbour": (
        "Truqueu a la porta d'un veí",
        "Llame a la puerta de un vecino",
        "Knock at your neighbour's door",
    ),
    "help.alt.neighbour_named": (
        "Truqueu a la porta de {name} ({who})",
        "Llame a la puerta de {name} ({who})",
        "Knock at {name}'s door ({who})",
    ),
    "help.pendant": (
        "Si podeu, premeu també el botó del penjoll.",
        "Si puede, pulse también el botón del colgante.",
        "If you can, also press your pendant button.",
    ),
    # prompt
    "prompt.inactivity": ("Esteu bé?", "¿Está bien?", "Are you all right?"),
    "prompt.wellbeing": ("Com esteu? Tot bé?", "¿Cómo está? ¿Todo bien?", "How are you? All well?"),
    "prompt.medication": (
        "És l'hora de la medicació: {schedule}",
        "Es la hora de la medicación: {schedule}",
        "Time for your medication: {schedule}",
    ),
    "prompt.medication_any": (
        "Us heu pres la medicació?",
        "¿Se ha tomado la medicación?",
        "Did you take your medication?",
    ),
    "prompt.fine": ("Sí, estic bé", "Sí, estoy bien", "Yes, I'm fine"),
    "prompt.help": ("Necessito ajuda", "Necesito ayuda", "I need help"),
    "prompt.med_yes": ("Ja me l'he presa", "Ya me la he tomado", "I've taken it"),
    "prompt.med_no": ("Recorda-m'ho més tard", "Recuérdamelo más tarde", "Remind me later"),
    "prompt.med_countdown": (
        "Si no ho confirmeu en {time}, la central n'estarà avisada.",
        "Si no lo confirma en {time}, la central será avisada.",
        "If you do not confirm within {time}, the centre will be told.",
    ),
    "prompt.med_thanks": (
        "Gràcies. Ho hem anotat.",
        "Gracias. Lo hemos anotado.",
        "Thank you. We have noted it.",
    ),
    "prompt.med_later": (
        "D'acord. Us ho recordarem d'aquí a 10 minuts.",
        "De acuerdo. Se lo recordaremos dentro de 10 minutos.",
        "All right. We will remind you in 10 minutes.",
    ),
    "prompt.med_timeout": (
        "No ens heu confirmat la dosi. La central n'està avisada.",
        "No nos ha confirmado la dosis. La central está avisada.",
        "You did not confirm the dose. The centre has been told.",
    ),
    "prompt.timeout": (
        "No hem rebut resposta. La central us trucarà.",
        "No hemos recibido respuesta. La central le llamará.",
        "No answer received. The centre will call you.",
    ),
    # Under the question, updated every second: the time left and what happens then.
    "prompt.countdown": (
        "Si no responeu en {time}, la central us trucarà.",
        "Si no responde en {time}, la central le llamará.",
        "If you do not answer within {time}, the centre will call you.",
    ),
    "time.minute": ("1 minut", "1 minuto", "1 minute"),
    "time.minutes": ("{n} minuts", "{n} minutos", "{n} minutes"),
    "time.second": ("1 segon", "1 segundo", "1 second"),
    "time.seconds": ("{n} segons", "{n} segundos", "{n} seconds"),
    "prompt.thanks_fine": (
        "Gràcies. Ens alegrem que estigueu bé.",
        "Gracias. Nos alegra que esté bien.",
        "Thank you. We are glad you are well.",
    ),
    "prompt.thanks_help": (
        "D'acord. La central us trucarà ara.",
        "De acuerdo. La central le llamará ahora.",
        "All right. The centre will call you now.",
    ),
    # messages
    "messages.title": ("Missatges", "Mensajes", "Messages"),
    "messages.none": (
        "Encara no hi ha missatges.",
        "Todavía no hay mensajes.",
        "No messages yet.",
    ),
    "messages.new": ("{n} nous", "{n} nuevos", "{n} new"),
    "messages.new_one": ("1 nou", "1 nuevo", "1 new"),
    "messages.photo": ("Foto", "Foto", "Photo"),
    "messages.voice": ("Missatge de veu", "Mensaje de voz", "Voice message"),
    "messages.video": ("Vídeo", "Vídeo", "Video"),
    # above each message of a conversation: who wrote it and when
    "messages.by": ("{when} · {who}", "{when} · {who}", "{when} · {who}"),
    "messages.by_you": ("Enviat per vós", "Enviado por usted", "Sent by you"),
    "messages.from": ("De {name}", "De {name}", "From {name}"),
    "video.again": ("Tornar a veure", "Volver a ver", "Play again"),
    "gallery.open": ("Fotos", "Fotos", "Photos"),
    "conversation.older": ("Missatges d'abans", "Mensajes anteriores", "Older messages"),
    "conversation.newer": ("Més nous", "Más nuevos", "Newer"),
    "people.before": ("Anteriors", "Anteriores", "Before"),
    "people.more": ("Més gent", "Más gente", "More people"),
    "people.shown": (
        "{first} a {last} de {total}",
        "{first} a {last} de {total}",
        "{first} to {last} of {total}",
    ),
    "day.today": ("Avui", "Hoy", "Today"),
    "day.yesterday": ("Ahir", "Ayer", "Yesterday"),
    "gallery.title": ("Les fotos de la meva gent", "Las fotos de mi gente", "My people's photos"),
    "gallery.before": ("Anteriors", "Anteriores", "Before"),
    "gallery.more": ("Més fotos", "Más fotos", "More photos"),
    "gallery.shown": (
        "{first} a {last} de {total}",
        "{first} a {last} de {total}",
        "{first} to {last} of {total}",
    ),
    "video.done": ("Tancar", "Cerrar", "Close"),
    "messages.close": ("Tancar", "Cerrar", "Close"),
    # the resident's own voice message or photo
    "messages.to": ("Missatge per a {name}", "Mensaje para {name}", "Message for {name}"),
    "record.button": ("Gravar un missatge", "Grabar un mensaje", "Record a message"),
    "record.recording": ("Gravant… {time}", "Grabando… {time}", "Recording… {time}"),
    "record.press_to_send": ("Premeu per enviar", "Pulse para enviar", "Press to send"),
    "record.cancel": ("Cancel·lar", "Cancelar", "Cancel"),
    "photo.button": ("Fer una foto", "Hacer una foto", "Take a photo"),
    "outgoing.sending": ("Enviant…", "Enviando…", "Sending…"),
    "outgoing.sent": ("Enviat!", "¡Enviado!", "Sent!"),
    # says what was not sent: "not sent yet" alone left the resident guessing
    "outgoing.queued.voice": (
        "Missatge de veu guardat. L'enviarem quan es pugui.",
        "Mensaje de voz guardado. Lo enviaremos cuando se pueda.",
        "Voice message saved. We will send it when we can.",
    ),
    "outgoing.queued.photo": (
        "Foto guardada. L'enviarem quan es pugui.",
        "Foto guardada. La enviaremos cuando se pueda.",
        "Photo saved. We will send it when we can.",
    ),
    # calls
    "call.title": ("A qui voleu trucar?", "¿A quién quiere llamar?", "Who do you want to call?"),
    "call.none": (
        "Encara no hi ha ningú per trucar.",
        "Todavía no hay nadie a quien llamar.",
        "Nobody to call yet.",
    ),
    "call.incoming": ("{name} us truca", "{name} le llama", "{name} is calling you"),
    "call.answer": ("Respondre", "Responder", "Answer"),
    "call.decline": ("Ara no", "Ahora no", "Not now"),
    "call.calling": ("Trucant a {name}…", "Llamando a {name}…", "Calling {name}…"),
    "call.talking": ("Parlant amb {name}", "Hablando con {name}", "Talking with {name}"),
    "call.hangup": ("Penjar", "Colgar", "Hang up"),
    # The buttons of a video call, and what the screen says while the microphone is off.
    "call.louder": ("Més fort", "Más alto", "Louder"),
    "call.softer": ("Més fluix", "Más bajo", "Softer"),
    "call.mic_off": ("Apagar micròfon", "Apagar micrófono", "Microphone off"),
    "call.mic_on": ("Encendre micròfon", "Encender micrófono", "Microphone on"),
    "call.muted": (
        "El micròfon està apagat: no us senten.",
        "El micrófono está apagado: no le oyen.",
        "Your microphone is off: they cannot hear you.",
    ),
    "call.volume": ("Volum {n} de {total}", "Volumen {n} de {total}", "Volume {n} of {total}"),
    "call.ended": ("La trucada ha acabat.", "La llamada ha terminado.", "The call has ended."),
    "call.missed": (
        "Trucada perduda de {name}",
        "Llamada perdida de {name}",
        "Missed call from {name}",
    ),
    "call.failed": (
        "No s'ha pogut connectar. Proveu més tard.",
        "No se ha podido conectar. Pruebe más tarde.",
        "Could not connect. Please try later.",
    ),
    "call.centre": ("El centre", "El centro", "The centre"),
    "call.centre_incoming": (
        "El centre us truca",
        "El centro le llama",
        "The centre is calling you",
    ),
    "call.centre_talking": (
        "Parlant amb el centre",
        "Hablando con el centro",
        "Speaking with the centre",
    ),
    "call.centre_announce": (
        "El centre us parla.",
        "El centro le está hablando.",
        "The centre is speaking with you.",
    ),
    "call.centre_end": ("Acabar", "Terminar", "End"),
    # agenda
    "agenda.title": ("Agenda", "Agenda", "Agenda"),
    "agenda.before": ("Abans", "Antes", "Before"),
    "agenda.more": ("Més endavant", "Más adelante", "Later"),
    "agenda.shown": (
        "{first} a {last} de {total}",
        "{first} a {last} de {total}",
        "{first} to {last} of {total}",
    ),
    "agenda.none": (
        "No teniu res a l'agenda.",
        "No tiene nada en la agenda.",
        "Nothing on your agenda.",
    ),
    "agenda.today": ("Avui a les {time}", "Hoy a las {time}", "Today at {time}"),
    "agenda.tomorrow": ("Demà a les {time}", "Mañana a las {time}", "Tomorrow at {time}"),
    "agenda.weekday": ("{day} a les {time}", "El {day} a las {time}", "{day} at {time}"),
    "agenda.accept": ("Hi aniré", "Iré", "I'll go"),
    "agenda.decline": ("No hi aniré", "No iré", "I won't go"),
    "agenda.accepted": ("Hi aneu", "Va a ir", "You are going"),
    "agenda.declined": ("No hi aneu", "No va a ir", "You are not going"),
    "reminder.title": ("Recordatori", "Recordatorio", "Reminder"),
    "reminder.ok": ("D'acord", "De acuerdo", "OK"),
    "notice.title": (
        "Missatge de la central",
        "Mensaje de la central",
        "Message from the centre",
    ),
    "notice.read": ("Ja l'he llegit", "Ya lo he leído", "I've read it"),
    # pairing / linking
    "pair.title": (
        "Codi d'instal·lació",
        "Código de instalación",
        "Setup code",
    ),
    "pair.hint": (
        "Escriviu el codi de 8 xifres de l'ordre de treball.",
        "Escriba el código de 8 cifras de la orden de trabajo.",
        "Type the 8-digit code on the work order.",
    ),
    "pair.ok": ("Connectar", "Conectar", "Connect"),
    "pair.working": ("Connectant…", "Conectando…", "Connecting…"),
    "pair.done": ("Tauleta connectada.", "Tableta conectada.", "Tablet connected."),
    "pair.bad_code": (
        "Aquest codi no és vàlid o ha caducat.",
        "Este código no es válido o ha caducado.",
        "This code is not valid or has expired.",
    ),
    "pair.no_hub": (
        "No es pot contactar amb la central.",
        "No se puede contactar con la central.",
        "Cannot reach the centre.",
    ),
    "link.button": ("La meva gent", "Mi gente", "My people"),
    "link.title": ("Codi per a la família", "Código para la familia", "Code for your family"),
    "link.hint": (
        "Doneu aquest codi al vostre familiar. Serveix una sola vegada.",
        "Dé este código a su familiar. Sirve una sola vez.",
        "Give this code to your family member. It works once.",
    ),
    "link.expires": ("Caduca a les {time}", "Caduca a las {time}", "Expires at {time}"),
    "link.grants": (
        "Amb aquest codi us podrà enviar missatges i trucar. I a més:",
        "Con este código podrá enviarle mensajes y llamarle. Y además:",
        "With this code they can message and call you. And also:",
    ),
    "link.grants_none": (
        "Amb aquest codi només us podrà enviar missatges i trucar.",
        "Con este código solo podrá enviarle mensajes y llamarle.",
        "With this code they can only message and call you.",
    ),
    # my people: who is in my circle and what each one may see
    "circle.title": ("La meva gent", "Mi gente", "My people"),
    "circle.none": (
        "Encara no hi ha ningú. Toqueu «Afegir algú».",
        "Aún no hay nadie. Toque «Añadir a alguien».",
        "Nobody yet. Touch “Add someone”.",
    ),
    "circle.add": ("Afegir algú", "Añadir a alguien", "Add someone"),
    "circle.always": (
        "{name} us pot enviar missatges i trucar. Toqueu Sí o No per canviar el que veu.",
        "{name} puede enviarle mensajes y llamarle. Toque Sí o No para cambiar lo que ve.",
        "{name} can send you messages and call you. Touch Yes or No to change what they see.",
    ),
    "circle.hint": (
        "Toqueu una persona per triar què pot veure.",
        "Toque a una persona para elegir qué puede ver.",
        "Touch a person to choose what they may see.",
    ),
    "circle.new.person": ("La persona nova", "La persona nueva", "The new person"),
    "circle.not_saved": (
        "No s'ha pogut desar: no hi ha connexió. Torneu-ho a provar.",
        "No se ha podido guardar: no hay conexión. Vuelva a intentarlo.",
        "Not saved: no connection. Please try again.",
    ),
    "circle.scope.alarms": (
        "{name} rep un avís quan demaneu ajuda",
        "{name} recibe un aviso cuando pide ayuda",
        "{name} is told when you ask for help",
    ),
    "circle.scope.activity": (
        "{name} veu si avui us heu mogut per casa",
        "{name} ve si hoy se ha movido por casa",
        "{name} sees if you have been up and about today",
    ),
    "circle.scope.agenda": (
        "{name} veu la vostra agenda",
        "{name} ve su agenda",
        "{name} sees your appointments",
    ),
    "circle.before": ("Anteriors", "Anteriores", "Before"),
    "circle.more": ("Més gent", "Más gente", "More people"),
    "circle.shown": (
        "{first} a {last} de {total}",
        "{first} a {last} de {total}",
        "{first} to {last} of {total}",
    ),
    "circle.yes": ("Sí", "Sí", "Yes"),
    "circle.no": ("No", "No", "No"),
    "circle.remove": (
        "Treure {name} de la meva gent",
        "Quitar a {name} de mi gente",
        "Take {name} out of my people",
    ),
    "circle.remove.question": (
        "Voleu treure {name} de la vostra gent?",
        "¿Quiere quitar a {name} de su gente?",
        "Take {name} out of your people?",
    ),
    "circle.remove.explain": (
        "Ja no us podrà enviar missatges ni trucar, ni veure res vostre.",
        "Ya no podrá enviarle mensajes ni llamarle, ni ver nada suyo.",
        "They will no longer be able to message or call you, or see anything of yours.",
    ),
    "circle.remove.yes": ("Sí, treure", "Sí, quitar", "Yes, take out"),
    "circle.remove.no": ("No, deixar", "No, dejar", "No, keep"),
    "circle.new.question": (
        "Què podrà veure la persona nova?",
        "¿Qué podrá ver la persona nueva?",
        "What may the new person see?",
    ),
    "circle.new.make": ("Fer el codi", "Hacer el código", "Make the code"),
}

# The one translation mechanism of every part (protocol.i18n.Catalog), over the rows above.
_CATALOG: Final = Catalog.from_rows(_TEXT, "tablet")


def is_language(value: str) -> bool:
    """True if ``value`` is one of the tablet's languages."""
    return value in LANGUAGES


def translate(key: str, lang: Lang, **values: object) -> str:
    """The text of ``key`` in ``lang`` with ``values`` filled in (never fails: a missing key
    is logged and shown as itself, a text needing other values is shown unfilled)."""
    try:
        template = _CATALOG.text(key, lang)
    except MissingTranslation:
        _LOGGER.error("missing text %r", key)
        return key
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        _LOGGER.error("text %r in %s needs other values than %s", key, lang, sorted(values))
        return template


def addressed_key(key: str, address_form: str) -> str:
    """``key.feminine`` or ``key.masculine`` when the resident is addressed so and the text
    has that form, else ``key`` itself (neutral words: neutral, or nobody said)."""
    gendered = f"{key}.{address_form}"
    if address_form in ("feminine", "masculine") and gendered in _TEXT:
        return gendered
    return key


def keys() -> frozenset[str]:
    """Every text key (for tests that check all languages are filled)."""
    return frozenset(_TEXT)
