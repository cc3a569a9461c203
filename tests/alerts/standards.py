"""Validators built from the published standards in ``../shared/standards`` (beside the repo).

The files are used as published, never copied here (see that folder's README): the OASIS
CAP 1.2 XML Schema and NENA's EIDO JSON schema (NENA-STA-021, an OpenAPI document whose
``EmergencyIncidentDataObjectType`` is the EIDO, with the NIEM component files it refers to).
Also the CAP 1.2 rules a schema cannot express (CAP-v1.2-os §3.2.1, §3.3.2).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from lxml import etree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "standards"
CAP_XSD = STANDARDS / "cap" / "CAP-v1.2.xsd"
EIDO_OPENAPI = STANDARDS / "nena-eido-json" / "Schema" / "openapi.yaml"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
_CAP_ID_FORBIDDEN = re.compile(r"[\s,<&]")


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the published standards live in ../shared/standards beside"
            " the repository (see its README)"
        )
    return path


@functools.cache
def cap_schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 XML Schema."""
    return etree.XMLSchema(etree.parse(str(_require(CAP_XSD))))


def cap_schema_problems(raw: bytes) -> list[str]:
    """What the CAP 1.2 XSD finds wrong with ``raw`` (empty when valid)."""
    try:
        document = etree.fromstring(raw)
    except etree.XMLSyntaxError as err:
        return [f"not well-formed XML: {err}"]
    schema = cap_schema()
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def cap_rule_problems(raw: bytes) -> list[str]:
    """CAP 1.2 rules the XSD cannot check: identifier characters, UTC as -00:00, references."""
    problems: list[str] = []
    try:
        root = etree.fromstring(raw)
    except etree.XMLSyntaxError as err:
        return [f"not well-formed XML: {err}"]
    ns = {"cap": CAP_NS}

    def text(path: str) -> str:
        return str(root.findtext(path, default="", namespaces=ns))

    for name in ("identifier", "sender"):
        value = text(f"cap:{name}")
        if _CAP_ID_FORBIDDEN.search(value):
            problems.append(f"{name} {value!r} has a space, comma, '<' or '&'")
    times = [text("cap:sent")]
    for path in ("cap:info/cap:effective", "cap:info/cap:onset", "cap:info/cap:expires"):
        times.extend(str(e.text or "") for e in root.findall(path, ns))
    for value in times:
        if not _CAP_TIME.match(value):
            problems.append(f"time {value!r} is not YYYY-MM-DDThh:mm:ss with a numeric zone")
        elif value.endswith("+00:00"):
            problems.append(f"time {value!r}: UTC must be written -00:00")
    msg_type = text("cap:msgType")
    references = text("cap:references").split()
    if msg_type in ("Update", "Cancel", "Ack", "Error") and not references:
        problems.append(f"a {msg_type} names no earlier message in <references>")
    if msg_type == "Alert" and references:
        problems.append("an Alert references earlier messages (it should be an Update)")
    for reference in references:
        parts = reference.split(",")
        if len(parts) != 3 or not all(parts):
            problems.append(f"reference {reference!r} is not sender,identifier,sent")
        elif not _CAP_TIME.match(parts[2]) or parts[2].endswith("+00:00"):
            problems.append(f"reference {reference!r}: sent is not a CAP time")
    return problems


def _load_yaml(path: Path) -> Any:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if path.name == "openapi.yaml":
        # Known defect of the published file (README): "minItems: 1," means 1.
        agent = data["components"]["schemas"]["AgentType"]["allOf"][1]["properties"]
        if agent["agentRoleRegistryText"].get("minItems") == "1,":
            agent["agentRoleRegistryText"]["minItems"] = 1
    return data


@functools.cache
def _resource(path: Path) -> Resource[Any]:
    return Resource.from_contents(_load_yaml(path), default_specification=DRAFT4)


def _retrieve(uri: str) -> Resource[Any]:
    path = Path(urlsplit(uri).path)
    parts = [p for p in path.parts if p]  # "NIEMComponents//j.yaml" has an empty part
    return _resource(Path("/", *parts))


@functools.cache
def eido_validator() -> jsonschema.protocols.Validator:
    """A validator of NENA's ``EmergencyIncidentDataObjectType`` (OpenAPI 3.0 ≈ draft 4).

    A schema file is parsed once, when a reference first needs it (parsing the NIEM YAML
    is the slow part), so later validations only walk the schema.
    """
    openapi = _require(EIDO_OPENAPI).resolve()
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    schema = {"$ref": f"{openapi.as_uri()}#/components/schemas/EmergencyIncidentDataObjectType"}
    return jsonschema.Draft4Validator(schema, registry=registry)


def eido_schema_problems(payload: Any) -> list[str]:
    """What NENA's EIDO schema finds wrong with ``payload`` (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in eido_validator().iter_errors(payload)
    ]


def eido_rule_problems(payload: Any) -> list[str]:
    """EIDO rules the schema cannot check: unique component ids, references that resolve."""
    problems: list[str] = []
    ids: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                ids.append(node["$id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        problems.append(f"component $id used twice: {sorted(duplicates)}")
    known = set(ids)

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"$ref"} and node["$ref"] not in known:
                problems.append(f"reference {node['$ref']!r} names no component")
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for item in node:
                refs(item)

    refs(payload)
    return problems
