"""Human text of the alerts core in Catalan, Spanish and English.

Rules do not build sentences: they return an :class:`Explanation` (a message key and
its parameters, already formatted in the resident's local time), and the operator's
screen or a notification renders it in the reader's language with :meth:`Explanation.text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.errors import AlertsValueError
from alerts.values import DEVICE_PARAMS, device_phrase, value_name
from protocol.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalog, Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Explanation", "Language", "label", "translate"]

# key -> (ca, es, en). Parameters are str.format fields.
_TEMPLATES: dict[str, tuple[str, str, str]] = {
    "panic": (
        "Botó d'ajuda premut ({source}) a les {time}",
        "Botón de ayuda pulsado ({source}) a las {time}",
        "Help button pressed ({source}) at {time}",
    ),
    "fall": (
        "Caiguda detectada ({room}) a les {time}",
        "Caída detectada ({room}) a las {time}",
        "Fall detected ({room}) at {time}",
    ),
    "fall_cancelled": (
        "La persona ha anul·lat la caiguda a les {time}",
        "La persona ha anulado la caída a las {time}",
        "The resident cancelled the fall at {time}",
    ),
    "smoke": (
        "Fum detectat ({room}) a les {time}",
        "Humo detectado ({room}) a las {time}",
        "Smoke detected ({room}) at {time}",
    ),
    "co": (
        "Monòxid de carboni detectat ({room}) a les {time}",
        "Monóxido de carbono detectado ({room}) a las {time}",
        "Carbon monoxide detected ({room}) at {time}",
    ),
    "gas": (
        "Fuita de gas detectada ({room}) a les {time}",
        "Fuga de gas detectada ({room}) a las {time}",
        "Gas leak detected ({room}) at {time}",
    ),
    "flood": (
        "Fuita d'aigua detectada ({room}) a les {time}",
        "Fuga de agua detectada ({room}) a las {time}",
        "Water leak detected ({room}) at {time}",
    ),
    "hazard_cleared": (
        "El sensor ({room}) torna a la normalitat a les {time}",
        "El sensor ({room}) vuelve a la normalidad a las {time}",
        "The sensor ({room}) cleared at {time}",
    ),
    "inactivity_period": (
        "Cap moviment des de les {since} ({hours} h)",
        "Ningún movimiento desde las {since} ({hours} h)",
        "No movement since {since} ({hours} h)",
    ),
    "inactivity_window": (
        "Cap moviment entre les {start} i les {end}; últim moviment {since}",
        "Ningún movimiento entre las {start} y las {end}; último movimiento {since}",
        "No movement between {start} and {end}; last movement {since}",
    ),
    "inactivity_in_bed": (
        "Al llit des de les {since}; no s'ha llevat abans de les {end}",
        "En la cama desde las {since}; no se ha levantado antes de las {end}",
        "In bed since {since}; not up by {end}",
    ),
    "usually_up_by": (
        "normalment en peu a les {time}",
        "normalmente en pie a las {time}",
        "usually up by {time}",
    ),
    "no_prompt_answer": (
        "no ha respost l'avís de la tauleta",
        "no ha respondido al aviso de la tableta",
        "no answer to the tablet prompt",
    ),
    "prompt_medication": (
        "És l'hora de la medicació: {schedule}",
        "Es la hora de la medicación: {schedule}",
        "Time for your medication: {schedule}",
    ),
    "prompt_inactivity": (
        "Està bé? No hem detectat moviment des de les {since}",
        "¿Está bien? No hemos detectado movimiento desde las {since}",
        "Are you all right? No movement since {since}",
    ),
    "prompt_help": (
        "Ha demanat ajuda a l'avís de la tauleta a les {time}",
        "Ha pedido ayuda en el aviso de la tableta a las {time}",
        "Asked for help at the tablet prompt at {time}",
    ),
    "missed_check_in": (
        "No ha fet el «Estic bé» abans de les {deadline}; l'últim, {last}",
        "No ha hecho el «Estoy bien» antes de las {deadline}; el último, {last}",
        'No "I\'m OK" check-in by {deadline}; last one {last}',
    ),
    "night_door": (
        "Porta ({door}) oberta a les {time}, de nit",
        "Puerta ({door}) abierta a las {time}, de noche",
        "Door ({door}) opened at {time}, at night",
    ),
    "bed_not_returned": (
        "Fora del llit des de les {since}; no ha tornat en {minutes} min",
        "Fuera de la cama desde las {since}; no ha vuelto en {minutes} min",
        "Out of bed since {since}; not back within {minutes} min",
    ),
    "temperature_low": (
        "Temperatura ({room}) de {celsius} °C des de les {since} (mínim {limit} °C)",
        "Temperatura ({room}) de {celsius} °C desde las {since} (mínimo {limit} °C)",
        "Temperature ({room}) {celsius} °C since {since} (minimum {limit} °C)",
    ),
    "temperature_high": (
        "Temperatura ({room}) de {celsius} °C des de les {since} (màxim {limit} °C)",
        "Temperatura ({room}) de {celsius} °C desde las {since} (máximo {limit} °C)",
        "Temperature ({room}) {celsius} °C since {since} (maximum {limit} °C)",
    ),
    "baseline_low": (
        "Activitat molt baixa: {observed} moviments de {start} a {end}; normalment {expected}"
        " ({change} %)",
        "Actividad muy baja: {observed} movimientos de {start} a {end}; normalmente {expected}"
        " ({change} %)",
        "Very low activity: {observed} movements from {start} to {end}; usually {expected}"
        " ({change} %)",
    ),
    "baseline_quiet_hours": (
        "hores més diferents: {hours}",
        "horas más distintas: {hours}",
        "most different hours: {hours}",
    ),
    "baseline_night": (
        "Nit inquieta: {observed} moviments de {start} a {end}; normalment {expected}",
        "Noche inquieta: {observed} movimientos de {start} a {end}; normalmente {expected}",
        "Restless night: {observed} movements from {start} to {end}; usually {expected}",
    ),
    "medication": (
        "Presa «{schedule}» de les {due} no confirmada en {minutes} min",
        "Toma «{schedule}» de las {due} no confirmada en {minutes} min",
        'Dose "{schedule}" due {due} not confirmed within {minutes} min',
    ),
    "medication_missed": (
        "El dispensador indica presa «{schedule}» no presa ({time})",
        "El dispensador indica toma «{schedule}» no tomada ({time})",
        'The dispenser reports dose "{schedule}" missed ({time})',
    ),
    # A device is named by what it is and where ({device}: alerts.values.device_phrase, "el
    # detector de moviment del dormitori"), never by its id alone; a sentence that opens with
    # it is capitalised when rendered.
    "device_offline": (
        "{device} no es comunica des de les {since}",
        "{device} no se comunica desde las {since}",
        "{device} has been silent since {since}",
    ),
    "low_battery": (
        "{device} té la bateria baixa: {percent} %",
        "{device} tiene la batería baja: {percent} %",
        "{device} has a low battery: {percent} %",
    ),
    "low_battery_flag": (
        "{device} té la bateria baixa",
        "{device} tiene la batería baja",
        "{device} has a low battery",
    ),
    "device_fault_trouble": (
        "{device} indica una avaria del sensor a les {time}",
        "{device} indica una avería del sensor a las {time}",
        "{device} reports a sensor fault at {time}",
    ),
    "device_fault_battery_defect": (
        "{device} indica que cal canviar la bateria ({time})",
        "{device} indica que hay que cambiar la batería ({time})",
        "{device} reports its battery must be replaced ({time})",
    ),
    "device_fault_unknown_action": (
        "{device} ha enviat una acció desconeguda «{detail}» a les {time}: cal revisar-lo",
        "{device} ha enviado una acción desconocida «{detail}» a las {time}: hay que revisarlo",
        '{device} sent an unknown action "{detail}" at {time}: check it',
    ),
    "device_fault_flooding": (
        "{device} envia massa missatges des de les {time} i se'n descarten: cal revisar-lo",
        "{device} envía demasiados mensajes desde las {time} y se descartan: hay que revisarlo",
        "{device} is flooding since {time}: its messages are being dropped; check it",
    ),
    "tamper": (
        "Han manipulat {device} a les {time}",
        "Han manipulado {device} a las {time}",
        "{device} tampered with at {time}",
    ),
    "power_lost": (
        "Tall de corrent a les {time} (ho indica {device})",
        "Corte de corriente a las {time} (lo indica {device})",
        "Mains power lost at {time} (reported by {device})",
    ),
    "power_restored": (
        "Corrent restablert a les {time}",
        "Corriente restablecida a las {time}",
        "Mains power back at {time}",
    ),
    "device_back_online": (
        "{device} torna a comunicar-se des de les {time}",
        "{device} vuelve a comunicarse desde las {time}",
        "{device} back online at {time}",
    ),
    "never": ("mai", "nunca", "never"),
}

# Events of certified units (DC-09): what the unit reported, then its protocol, code and zone.
_UNIT_EVENTS: dict[str, tuple[str, str, str]] = {
    "panic": ("Alarma personal", "Alarma personal", "Personal emergency"),
    "medical": ("Alarma mèdica", "Alarma médica", "Medical alarm"),
    "fall": ("Caiguda", "Caída", "Fall"),
    "fail_to_report": (
        "No ha fet el control de presència",
        "No ha hecho el control de presencia",
        "Failed to report in",
    ),
    "fire": ("Alarma de foc", "Alarma de fuego", "Fire alarm"),
    "smoke": ("Fum detectat", "Humo detectado", "Smoke detected"),
    "heat": ("Calor detectada (foc)", "Calor detectado (fuego)", "Heat detected (fire)"),
    "co": ("Monòxid de carboni", "Monóxido de carbono", "Carbon monoxide"),
    "gas": ("Fuita de gas", "Fuga de gas", "Gas leak"),
    "water_leak": ("Fuita d'aigua", "Fuga de agua", "Water leak"),
    "temperature_high": ("Temperatura alta", "Temperatura alta", "High temperature"),
    "temperature_low": ("Temperatura baixa", "Temperatura baja", "Low temperature"),
    "power_lost": ("Tall de corrent", "Corte de corriente", "Mains power lost"),
    "low_battery": ("Bateria baixa de l'equip", "Batería baja del equipo", "Unit battery low"),
    "rf_low_battery": (
        "Bateria baixa d'un sensor sense fils",
        "Batería baja de un sensor inalámbrico",
        "Wireless sensor battery low",
    ),
    "tamper": ("Manipulació", "Manipulación", "Tamper"),
    "rf_supervision": (
        "Sensor sense fils perdut",
        "Sensor inalámbrico perdido",
        "Wireless sensor supervision lost",
    ),
    "test": ("Prova periòdica", "Prueba periódica", "Periodic test"),
    "unknown": (
        "Esdeveniment desconegut «{raw}»",
        "Evento desconocido «{raw}»",
        "Unknown event «{raw}»",
    ),
    "restored": ("Restabliment", "Restablecimiento", "Restored"),
}
_UNIT_SUFFIX = (
    " ({protocol} {code}, zona {zone}) a les {time}",
    " ({protocol} {code}, zona {zone}) a las {time}",
    " ({protocol} {code}, zone {zone}) at {time}",
)
_TEMPLATES.update(
    {
        f"unit_{kind}": (
            texts[0] + _UNIT_SUFFIX[0],
            texts[1] + _UNIT_SUFFIX[1],
            texts[2] + _UNIT_SUFFIX[2],
        )
        for kind, texts in _UNIT_EVENTS.items()
    }
)


# The one translation mechanism of every part (protocol.i18n.Catalog), over the rows above.
_CATALOG = Catalog.from_rows(_TEMPLATES, "alerts")


def _check_language(language: str) -> None:
    """The alerts core refuses a language it has no texts for (no silent fallback)."""
    if language not in LANGUAGES:
        raise AlertsValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")


def translate(key: str, language: str, **params: str) -> str:
    """Render message ``key`` in ``language`` (ca, es, en)."""
    _check_language(language)
    if key not in _CATALOG.texts:
        raise AlertsValueError(f"no message {key!r}")
    # Coded values (a room, a door, what a panic was pressed on) in the same language as
    # the sentence: never "Caiguda detectada (bathroom)" (alerts/values.py).
    named = {
        name: value_name(_VALUE_KINDS[name], value, language) if name in _VALUE_KINDS else value
        for name, value in params.items()
        if name not in DEVICE_PARAMS
    }
    if "device" in params:  # what and where, not the id (the hub adds kind, room, wearer)
        kind, room, wearer = (params.get(name) or None for name in DEVICE_PARAMS)
        named["device"] = device_phrase(params["device"], kind, room, wearer, language)
    text = _CATALOG.text(key, language, **named)
    if _CATALOG.texts[key][language].startswith("{device}"):
        return text[:1].upper() + text[1:]  # "El detector…", "The bedroom…", "Device h1-…"
    return text


_VALUE_KINDS = {"room": "room", "door": "door", "source": "source"}


@dataclass(frozen=True, slots=True)
class Explanation:
    """A short, translatable reason: ``key`` + parameters, plus optional clauses."""

    key: str
    params: tuple[tuple[str, str], ...] = ()
    clauses: tuple[Explanation, ...] = ()

    def __post_init__(self) -> None:
        if self.key not in _TEMPLATES:
            raise AlertsValueError(f"no message {self.key!r}")

    @classmethod
    def of(cls, key: str, *clauses: Explanation, **params: object) -> Explanation:
        """Build an explanation; parameter values are turned into text."""
        return cls(key, tuple(sorted((k, str(v)) for k, v in params.items())), clauses)

    def param(self, name: str) -> str | None:
        """The value of parameter ``name``, if it has one."""
        return dict(self.params).get(name)

    def with_params(self, **params: str) -> Explanation:
        """The same explanation with ``params`` added (or replaced)."""
        merged = dict(self.params) | params
        return Explanation(self.key, tuple(sorted(merged.items())), self.clauses)

    def text(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The sentence in ``language``; clauses are joined with "; "."""
        parts = [translate(self.key, language, **dict(self.params))]
        parts.extend(clause.text(language) for clause in self.clauses)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """JSON view, for storage and the API."""
        return {
            "key": self.key,
            "params": dict(self.params),
            "clauses": [c.to_dict() for c in self.clauses],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Explanation:
        """Inverse of :meth:`to_dict`."""
        params = data.get("params") or {}
        clauses = data.get("clauses") or []
        if not isinstance(params, dict) or not isinstance(clauses, list):
            raise AlertsValueError(f"not an explanation: {data!r}")
        return cls(
            str(data["key"]),
            tuple(sorted((str(k), str(v)) for k, v in params.items())),
            tuple(cls.from_dict(c) for c in clauses),
        )


# Labels for coded values shown to people (rules, states, outcomes, targets).
_LABELS: dict[str, tuple[str, str, str]] = {
    # rules
    "panic": ("Botó d'ajuda", "Botón de ayuda", "Help button"),
    "fall": ("Caiguda", "Caída", "Fall"),
    "smoke": ("Fum", "Humo", "Smoke"),
    "co": ("Monòxid de carboni", "Monóxido de carbono", "Carbon monoxide"),
    "gas": ("Fuita de gas", "Fuga de gas", "Gas leak"),
    "flood": ("Inundació", "Inundación", "Flood"),
    "inactivity": ("Inactivitat", "Inactividad", "Inactivity"),
    "prompt_help": ("Demana ajuda", "Pide ayuda", "Asked for help"),
    "missed_check_in": ("«Estic bé» no fet", "«Estoy bien» no hecho", "Missed check-in"),
    "night_door": ("Porta de nit", "Puerta de noche", "Door at night"),
    "bed_not_returned": ("No torna al llit", "No vuelve a la cama", "Not back to bed"),
    "temperature": ("Temperatura", "Temperatura", "Temperature"),
    "baseline": ("Activitat inusual", "Actividad inusual", "Unusual activity"),
    "medication": ("Medicació", "Medicación", "Medication"),
    "device_offline": ("Dispositiu desconnectat", "Dispositivo desconectado", "Device offline"),
    "low_battery": ("Bateria baixa", "Batería baja", "Low battery"),
    "tamper": ("Manipulació", "Manipulación", "Tamper"),
    "power_lost": ("Tall de corrent", "Corte de corriente", "Power lost"),
    "device_fault": ("Avaria del dispositiu", "Avería del dispositivo", "Device fault"),
    "medical": ("Alarma mèdica", "Alarma médica", "Medical alarm"),
    "fire": ("Foc", "Fuego", "Fire"),
    "unit_event": ("Esdeveniment d'equip", "Evento de equipo", "Unit event"),
    # states
    "raised": ("Nova", "Nueva", "Raised"),
    "presented": ("A la cua", "En cola", "Presented"),
    "accepted": ("Acceptada", "Aceptada", "Accepted"),
    "in_contact": ("En contacte", "En contacto", "In contact"),
    "escalated": ("Escalada", "Escalada", "Escalated"),
    "resolved": ("Resolta", "Resuelta", "Resolved"),
    # outcomes
    "false_alarm": ("Falsa alarma", "Falsa alarma", "False alarm"),
    "resident_fine": ("La persona està bé", "La persona está bien", "Resident fine"),
    "resident_cancelled": (
        "Anul·lada per la persona",
        "Anulada por la persona",
        "Cancelled by the resident",
    ),
    "help_sent": ("Ajuda enviada", "Ayuda enviada", "Help sent"),
    "ambulance": ("Ambulància", "Ambulancia", "Ambulance"),
    "fire_brigade": ("Bombers", "Bomberos", "Fire brigade"),
    "police": ("Policia", "Policía", "Police"),
    "resident_not_found": ("Persona no localitzada", "Persona no localizada", "Resident not found"),
    "technical_fixed": ("Avaria resolta", "Avería resuelta", "Technical issue fixed"),
    "duplicate": ("Duplicada", "Duplicada", "Duplicate"),
    "other": ("Altres", "Otros", "Other"),
    # escalation targets
    "key_holder": ("Custodi de claus", "Custodio de llaves", "Key holder"),
    "family": ("Família", "Familia", "Family"),
    "neighbour": ("Veí voluntari", "Vecino voluntario", "Neighbour volunteer"),
    "mobile_unit": ("Unitat mòbil", "Unidad móvil", "Mobile unit"),
    "emergency_112": ("112", "112", "112"),
    "supervisor": ("Supervisor/a", "Supervisor/a", "Supervisor"),
}


_LABEL_CATALOG = Catalog.from_rows(_LABELS, "alerts labels")


def label(code: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Human label of a coded value; the code itself if it has no label."""
    _check_language(language)
    return _LABEL_CATALOG.text(code, language) if code in _LABEL_CATALOG.texts else code
