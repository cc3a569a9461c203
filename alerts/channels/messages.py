"""Notification text in the recipient's language (pure)."""

from __future__ import annotations

from alerts.alarm import Alarm
from alerts.channels.base import Notification, Recipient
from alerts.i18n import Language, label

_SUBJECT: dict[Language, str] = {
    "ca": "Teleassistència: {rule} — {resident}",
    "es": "Teleasistencia: {rule} — {resident}",
    "en": "Teleassistance: {rule} — {resident}",
}
_BODY: dict[Language, str] = {
    "ca": "Hola {name},\n\nLa central de teleassistència gestiona una alarma de {resident}: "
    "{explanation}.\n\nSi hi podeu anar, confirmeu-ho aquí: {ack}\n",
    "es": "Hola {name},\n\nLa central de teleasistencia gestiona una alarma de {resident}: "
    "{explanation}.\n\nSi puede ir, confírmelo aquí: {ack}\n",
    "en": "Hello {name},\n\nThe teleassistance centre is handling an alarm for {resident}: "
    "{explanation}.\n\nIf you can go, please confirm here: {ack}\n",
}
_NO_ACK: dict[Language, str] = {
    "ca": "(la central us trucarà)",
    "es": "(la central le llamará)",
    "en": "(the centre will call you)",
}


def contact_notification(
    alarm: Alarm, recipient: Recipient, resident_name: str, ack_url: str | None = None
) -> Notification:
    """The "alarm for your relative" message, with an "I'm going" link."""
    language = recipient.language
    rule = label(alarm.rule, language)
    subject = _SUBJECT[language].format(rule=rule, resident=resident_name)
    text = _BODY[language].format(
        name=recipient.name,
        resident=resident_name,
        explanation=alarm.explanation.text(language),
        ack=ack_url or _NO_ACK[language],
    )
    data = (("alarm_id", alarm.id), ("rule", alarm.rule.value), ("priority", str(alarm.priority)))
    return Notification(alarm.id, recipient, subject, text, ack_url, data)
