"""Messages about a relative's own account (verification and reset codes), by e-mail or SMS.

:class:`AccountMessenger` is the port; :class:`ChannelMessenger` adapts it to the alerts
package's e-mail and SMS channels, configured in ``[alarms]`` (``smtp_host``, ``sms_url``)
like every other message the hub sends. Texts are in the person's language.
"""

from __future__ import annotations

import logging
from typing import Protocol

from alerts.channels import EmailChannel, SmsChannel
from alerts.channels.base import Notification, Recipient
from alerts.i18n import Language
from hub.family.accounts import Contact, ContactKind

_LOGGER = logging.getLogger(__name__)

# key → (ca, es, en); {code} and {minutes} filled in.
_TEXTS: dict[str, tuple[str, str, str]] = {
    "signup.subject": (
        "El vostre codi de Teleassist",
        "Su código de Teleassist",
        "Your Teleassist code",
    ),
    "signup.text": (
        "Teleassist: el vostre codi per crear el compte és {code}. Caduca d'aquí a "
        "{minutes} minuts. Si no l'heu demanat, no feu res.",
        "Teleassist: su código para crear la cuenta es {code}. Caduca en {minutes} "
        "minutos. Si no lo ha pedido, no haga nada.",
        "Teleassist: your code to create your account is {code}. It expires in {minutes} "
        "minutes. If you did not ask for it, do nothing.",
    ),
    "exists.text": (
        "Teleassist: ja teniu un compte amb aquesta adreça o número. Entreu-hi i escriviu "
        "el codi d'enllaç a la pàgina d'inici. Si no ho heu demanat, no feu res.",
        "Teleassist: ya tiene una cuenta con esta dirección o número. Entre y escriba el "
        "código de enlace en la página de inicio. Si no lo ha pedido, no haga nada.",
        "Teleassist: you already have an account with this address or number. Sign in and "
        "type the linking code on your home page. If you did not ask, do nothing.",
    ),
    "reset.subject": (
        "Canvi de contrasenya de Teleassist",
        "Cambio de contraseña de Teleassist",
        "Teleassist password change",
    ),
    "reset.text": (
        "Teleassist: el vostre codi per canviar la contrasenya és {code}. Caduca d'aquí a "
        "{minutes} minuts. Si no l'heu demanat, no feu res: la contrasenya no canvia.",
        "Teleassist: su código para cambiar la contraseña es {code}. Caduca en {minutes} "
        "minutos. Si no lo ha pedido, no haga nada: la contraseña no cambia.",
        "Teleassist: your code to change your password is {code}. It expires in {minutes} "
        "minutes. If you did not ask for it, do nothing: your password stays.",
    ),
}
_INDEX = {"ca": 0, "es": 1, "en": 2}


def account_text(key: str, language: str, **values: object) -> str:
    """``key`` in ``language`` (Catalan if unknown), with ``values`` filled in."""
    return _TEXTS[key][_INDEX.get(language, 0)].format(**values)


class AccountMessenger(Protocol):
    """Sends one message about an account to an e-mail address or phone number."""

    async def send(self, contact: Contact, language: str, subject: str, text: str) -> bool:
        """Send; ``False`` if it could not be sent (never raises for a delivery problem)."""
        ...


class ChannelMessenger:
    """:class:`AccountMessenger` over the e-mail and SMS channels (either may be absent)."""

    def __init__(self, email: EmailChannel | None, sms: SmsChannel | None) -> None:
        self._email = email
        self._sms = sms

    async def send(self, contact: Contact, language: str, subject: str, text: str) -> bool:
        """Send by e-mail or SMS as the contact is; log and answer ``False`` on failure."""
        lang: Language = language if language in _INDEX else "ca"  # type: ignore[assignment]
        is_email = contact.kind is ContactKind.EMAIL
        recipient = Recipient(
            recipient_id=contact.masked(),
            name="",
            language=lang,
            email=contact.value if is_email else None,
            phone=None if is_email else contact.value,
        )
        # The SMS gateway and the mail headers carry alarm_id as their reference.
        notification = Notification(alarm_id="account", recipient=recipient, subject=subject,
                                    text=text)  # fmt: skip
        channel = self._email if is_email else self._sms
        if channel is None:
            _LOGGER.warning("no %s channel is configured: account message not sent", contact.kind)
            return False
        result = await channel.send(notification)
        if not result.delivered:
            _LOGGER.warning("account message to %s failed: %s", contact.masked(), result.detail)
        return result.delivered
