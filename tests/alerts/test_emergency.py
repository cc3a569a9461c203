"""112 hand-off: NENA EIDO and CAP 1.2, validated against the published standards, to a local
receiving centre that checks them too."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, date, datetime, timedelta

import aiohttp
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
)
from teleassist.localbroker import free_port
from tests.alerts.centre import ReceivingCentre, cap_problems, eido_problems
from tests.instants import machine_now

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


def test_eido_payload_follows_nenas_published_schema() -> None:
    payload = build_eido(_incident())
    assert eido_problems(payload) == []
    assert payload["eidoVersion"] == "1.0"
    incident = payload["incidentComponent"]
    assert incident["incidentTypeCommonRegistryText"] == "Fire.Residential"
    assert incident["incidentStatusCommonRegistryText"] == ["Active"]
    assert incident["$id"] == "urn:emergency:uid:incidentid:alarm-7:ta-bcn"
    (agency,) = payload["agencyComponent"]
    assert agency["$id"] == "ta-bcn"
    assert payload["updatedByAgencyReference"] == {"$ref": "ta-bcn"}
    (place,) = payload["locationComponent"]
    assert "<gml:pos>41.3889 2.1527</gml:pos>" in place["locationByValue"]
    assert "Carrer de Provença 100" in place["locationByValue"]
    (person,) = payload["personComponent"]
    nc = person["ncPersonComponent"]
    assert nc["name"] == [{"personFullName": [{"value": "Rosa Puig"}]}]
    assert nc["birthDate"] == [{"date": [{"value": "1938-05-02"}]}]
    notes = {n["$id"]: n["notesActionComments"] for n in payload["notesComponent"]}
    (person_note,) = (notes[r["$ref"]] for r in person["notesReference"])
    assert "87 years" in person_note
    assert "Diabetes; pacemaker" in person_note
    # The key-safe code is never in the payload, only that there is one.
    assert "key safe on site" in place["locationDescriptionText"]
    assert payload["lastUpdateTimeStamp"] == "2026-01-12T09:03:00-00:00"


def test_nenas_schema_rejects_a_broken_payload() -> None:
    payload = build_eido(_incident())
    del payload["agencyComponent"][0]["agencyType"]
    assert eido_problems(payload)
    payload = build_eido(_incident())
    payload["personComponent"][0]["notesReference"] = [{"$ref": "nowhere"}]
    assert eido_problems(payload) == ["reference 'nowhere' names no component"]


def test_cap_payload_validates_against_the_oasis_schema() -> None:
    body, content_type = render_payload(_incident(), PayloadFormat.CAP)
    assert content_type == "application/cap+xml"
    assert cap_problems(body) == []
    assert b"<circle>41.3889,2.1527 0.015</circle>" in body
    assert b"<sent>2026-01-12T09:03:00-00:00</sent>" in body
    assert b"<msgType>Alert</msgType>" in body
    assert b"<references>" not in body
    assert cap_problems(body.replace(b"<severity>", b"<sev>").replace(b"</severity>", b"</sev>"))
    assert cap_problems(body.replace(b"-00:00</sent>", b"+00:00</sent>"))


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
    centre.refuse_all = True
    async with aiohttp.ClientSession() as session:
        gateway = HttpEmergencyGateway(
            EmergencyGatewaySettings(str(server.make_url("/incidents")), retry=FAST), session
        )
        result = await gateway.hand_off(_incident())
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
    now = machine_now()  # OpenSSL checks the certificate against the machine's clock
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
