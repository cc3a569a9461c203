"""HTTP digest authentication as SIP uses it towards a PBX (RFC 3261 22, RFC 2617, RFC 7616).

A PBX answers an ``INVITE`` with ``401`` (``WWW-Authenticate``) or ``407``
(``Proxy-Authenticate``) and a challenge; the caller sends the request again with
``Authorization`` / ``Proxy-Authorization`` holding a response computed from the
credentials, the challenge's nonce, the method and the request URI. MD5 and SHA-256 (each
also as ``-sess``), with ``qop=auth`` or without qop (RFC 2069). ``auth-int`` is not offered
by SIP PBXs in practice and is refused, as is an unknown algorithm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)\s*,?')
_HASHES = {"MD5": "md5", "SHA-256": "sha256"}
MAX_CHALLENGE = 2048


class DigestError(ValueError):
    """A challenge that cannot be answered."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the PBX asked for."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None


def parse_challenge(header: str) -> Challenge:
    """Read a ``WWW-Authenticate`` / ``Proxy-Authenticate`` value (raises DigestError)."""
    if len(header) > MAX_CHALLENGE:
        raise DigestError("challenge too long")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"not a digest challenge: {scheme!r}")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        found = _PARAM.match(rest, position)
        if found is None:
            raise DigestError("malformed challenge")
        value = found.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[found.group(1).lower()] = value
        position = found.end()
    if "realm" not in params or "nonce" not in params:
        raise DigestError("a challenge needs a realm and a nonce")
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper().removesuffix("-SESS") not in _HASHES:
        raise DigestError(f"unsupported algorithm {algorithm!r}")
    qop = tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip())
    if qop and "auth" not in qop:
        raise DigestError(f"unsupported qop {params['qop']!r}")
    return Challenge(params["realm"], params["nonce"], algorithm, qop, params.get("opaque"))


def _h(algorithm: str, text: str) -> str:
    name = _HASHES[algorithm.upper().removesuffix("-SESS")]
    return hashlib.new(name, text.encode()).hexdigest()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The ``Authorization`` (or ``Proxy-Authorization``) value answering ``challenge``."""
    algorithm = challenge.algorithm
    ha1 = _h(algorithm, f"{username}:{challenge.realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    parts = [
        f"username={_quoted(username)}",
        f"realm={_quoted(challenge.realm)}",
        f"nonce={_quoted(challenge.nonce)}",
        f"uri={_quoted(uri)}",
    ]
    if challenge.qop:
        count = f"{nc:08x}"
        response = _h(algorithm, f"{ha1}:{challenge.nonce}:{count}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={count}", f"cnonce={_quoted(cnonce)}"]
    else:
        response = _h(algorithm, f"{ha1}:{challenge.nonce}:{ha2}")
    parts += [f"response={_quoted(response)}", f"algorithm={algorithm}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_quoted(challenge.opaque)}")
    return "Digest " + ", ".join(parts)
