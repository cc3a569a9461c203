import base64
import hashlib
import hmac
from datetime import UTC, datetime

from hub.family.calls.ice import ice_servers, turn_credentials

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    user, password = turn_credentials("s3cret", "u:4", NOW, 3600)
    expiry, party = user.split(":", 1)
    assert int(expiry) == int(NOW.timestamp()) + 3600
    assert party == "u:4"
    expected = base64.b64encode(hmac.new(b"s3cret", user.encode(), hashlib.sha1).digest())
    assert password == expected.decode()


def test_ice_servers() -> None:
    assert ice_servers([], [], "", "u:1", NOW, 60) == []
    servers = ice_servers(["stun:h:3478"], ["turn:h:3478"], "k", "u:1", NOW, 60)
    assert servers[0] == {"urls": ["stun:h:3478"]}
    assert servers[1]["urls"] == ["turn:h:3478"]
    assert servers[1]["username"].endswith(":u:1")
    # TURN without a secret is left out rather than served without credentials.
    assert ice_servers([], ["turn:h:3478"], "", "u:1", NOW, 60) == []
