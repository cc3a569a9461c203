"""112 hand-off: EIDO-style JSON and CAP 1.2 to a local receiving centre that validates them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from datetime import UTC, date, datetime, timedelta

import aiohttp
import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts import (
    Actor,
    ActorKind,
    AlertsValueError,
    ContactResult,
    Detection,
    Explanation,
    RuleKind,
    accept,
    attach,
    raise_alarm,
    record_contact_attempt,
)
from alerts.channels import RetryPolicy
from alerts.emergency import (
    Centre,
    EmergencyGatewaySettings,
    EmergencyIncident,
    HttpEmergencyGateway,
    Location,
    PayloadFormat,
    Person,
    build_eido,
    render_payload,
    schema,
)
from teleassist.localbroker import free_port
from tests.alerts.centre import ReceivingCentre, cap_problems

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=3, base_delay_s=0.0, timeout_s=5)
ANNA = Actor(ActorKind.OPERATOR, "op-anna", "Anna")


def _incident(rule: RuleKind = RuleKind.SMOKE) -> EmergencyIncident:
    alarm = raise_alarm(
        "alarm-7",
        Detection(
            rule=rule,
            home_id="12",
            resident_id="31",
            at=T0,
            explanation=Explanation.of("smoke", room="kitchen", time="10:00"),
            event_ids=("ev1",),
        ),
    )
    alarm = accept(alarm, ANNA, T0 + timedelta(seconds=20))
    alarm = record_contact_attempt(
        alarm, ANNA, T0 + timedelta(seconds=40), party="resident", result=ContactResult.NO_ANSWER
    )
    alarm = attach(
        alarm,
        Detection(
            rule=RuleKind.CO,
            home_id="12",
            resident_id="31",
            at=T0,
            explanation=Explanation.of("co", room="kitchen", time="10:01"),
        ),
        T0 + timedelta(seconds=60),
    )
    return EmergencyIncident(
        alarm=alarm,
        person=Person(
            "Rosa Puig", "ca", date(1938, 5, 2), "+34930000000", True, "Diabetes; pacemaker"
        ),
        location=Location(
            "Carrer de Provença 100, 3r 2a",
            municipality="Barcelona",
            postal_code="08029",
            latitude=41.3889,
            longitude=2.1527,
            uncertainty_m=15,
            confidence_percent=90,
            access_notes="Key holder: neighbour 3r 1a",
            key_safe=True,
        ),
        centre=Centre("ta-bcn", "Teleassist Barcelona", "+34930000999", "anna"),
        sent_at=T0 + timedelta(minutes=3),
    )


def test_eido_payload_follows_the_published_schema() -> None:
    payload = build_eido(_incident())
    jsonschema.validate(payload, schema())
    incident = payload["incidentComponent"]
    assert incident["incidentTypeCommonRegistryText"] == "Fire.Residential"
    assert incident["incidentPriority"] == 1
    assert incident["triggeringRules"] == ["smoke", "co"]
    (place,) = payload["locationComponent"]
    assert place["geo"]["latitude"] == 41.3889
    assert place["locationConfidencePercent"] == 90
    (person,) = payload["personComponent"]
    assert person["personAge"] == 87
    assert person["personMedicalNotes"] == "Diabetes; pacemaker"
    assert [n["noteActionCode"] for n in payload["notesComponent"]] == [
        "raised",
        "accepted",
        "contact_attempt",
        "event_attached",
    ]
    # The key-safe code is never in the payload, only that there is one.
    assert place["keySafePresent"] is True


def test_schema_rejects_a_broken_payload() -> None:
    payload = build_eido(_incident())
    del payload["locationComponent"][0]["civicAddress"]["addressText"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, schema())


def test_cap_payload_has_every_required_element() -> None:
    body, content_type = render_payload(_incident(), PayloadFormat.CAP)
    assert content_type == "application/cap+xml"
    assert cap_problems(body) == []
    assert b"<circle>41.3889,2.1527 0.015</circle>" in body
    assert cap_problems(body.replace(b"<severity>", b"<sev>").replace(b"</severity>", b"</sev>"))


def test_bad_location_is_refused() -> None:
    with pytest.raises(AlertsValueError, match="address"):
        Location(" ")
    with pytest.raises(AlertsValueError, match="both"):
        Location("x", latitude=41.0)


@pytest.mark.parametrize("fmt", [PayloadFormat.EIDO, PayloadFormat.CAP])
async def test_hand_off_is_validated_and_acknowledged_with_a_reference(aiohttp_server, fmt) -> None:
    centre = ReceivingCentre(fail_first=1)
    server = await aiohttp_server(centre.app())
    async with aiohttp.ClientSession() as session:
        gateway = HttpEmergencyGateway(
            EmergencyGatewaySettings(str(server.make_url("/incidents")), fmt, retry=FAST), session
        )
        result = await gateway.hand_off(_incident())
    assert result.delivered, result.error
    assert result.attempts == 2  # one 503, then accepted
    assert result.status == 201
    assert result.reference == "112-CAT-1001"
    assert centre.rejected == []
    assert len(centre.received) == 1


async def test_refused_payload_is_a_failed_result_not_an_exception(aiohttp_server) -> None:
    centre = ReceivingCentre()
    server = await aiohttp_server(centre.app())
    incident = _incident()
    broken = EmergencyIncident(
        incident.alarm, incident.person, incident.location, Centre(""), incident.sent_at
    )
    async with aiohttp.ClientSession() as session:
        gateway = HttpEmergencyGateway(
            EmergencyGatewaySettings(str(server.make_url("/incidents")), retry=FAST), session
        )
        result = await gateway.hand_off(broken)
    assert not result.delivered
    assert result.status == 400
    assert result.attempts == 1
    assert "invalid" in result.reply
    assert centre.rejected


async def test_unreachable_centre_is_surfaced_after_retries() -> None:
    async with aiohttp.ClientSession() as session:
        gateway = HttpEmergencyGateway(
            EmergencyGatewaySettings(f"http://127.0.0.1:{free_port()}/incidents", retry=FAST),
            session,
        )
        result = await gateway.hand_off(_incident())
    assert not result.delivered
    assert result.attempts == 3
    assert result.reference is None
    assert result.error


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_hand_off_over_https(aiohttp_server, tmp_path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    centre = ReceivingCentre()
    server = await aiohttp_server(centre.app(), ssl=server_ctx)
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    url = f"https://127.0.0.1:{server.port}/incidents"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx)) as session:
        gateway = HttpEmergencyGateway(EmergencyGatewaySettings(url, retry=FAST), session)
        result = await gateway.hand_off(_incident())
    assert result.delivered, result.error
    assert len(centre.received) == 1
