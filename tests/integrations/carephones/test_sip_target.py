"""Where the hub sends a request in a unit's dialog: the dialog's remote target (the unit's
``Contact``, RFC 3261 12.2.1.1), or the address its requests came from when that target
cannot be used (ADR 0168)."""

from __future__ import annotations

import pytest

from integrations.carephones.scaip.sip import remote_target

# Where the unit's INVITE came from: a public address (the documentation ranges count as
# private for Python's ipaddress; nothing is ever sent to these).
SOURCE = ("80.58.0.7", 40123)


@pytest.mark.parametrize(
    ("contact", "target"),
    [
        ("sip:unit@80.58.0.7:5070", ("80.58.0.7", 5070)),
        ("sip:unit@80.58.0.7", ("80.58.0.7", 5060)),  # no port: SIP's default
        ("SIP:unit@80.58.0.9:5062;transport=UDP", ("80.58.0.9", 5062)),
        ("sip:80.58.0.7:5071;ob", ("80.58.0.7", 5071)),  # no user part
        ("sip:unit@[2a00:1450::7]:5080", ("2a00:1450::7", 5080)),
        ("sip:unit@80.58.0.7:5070?Subject=x", ("80.58.0.7", 5070)),
    ],
)
def test_a_usable_contact_is_the_target(contact: str, target: tuple[str, int]) -> None:
    assert remote_target(contact, SOURCE) == target


@pytest.mark.parametrize(
    "contact",
    [
        "",  # no Contact at all
        "not a uri",
        "tel:+34931234567",  # a number is no address
        "sips:unit@80.58.0.7:5061",  # TLS, and the dialog is on UDP
        "sip:unit@unit.example.com:5060",  # a name: no DNS lookups
        "sip:unit@80.58.0.7:0",
        "sip:unit@80.58.0.7:70000",
        "sip:unit@80.58.0.7:5060;transport=tcp",  # another transport than the dialog's
        "sip:unit@[not:an:address]:5060",
        # Behind a NAT: the unit wrote its inside address, not the one it came from.
        "sip:unit@192.168.1.20:5060",
        "sip:unit@10.0.0.7",
        "sip:unit@100.72.3.4:5060",  # carrier-grade NAT (RFC 6598)
        "sip:unit@169.254.1.1:5060",
        "sip:unit@127.0.0.1:5060",
    ],
)
def test_an_unusable_contact_falls_back_to_the_source(contact: str) -> None:
    assert remote_target(contact, SOURCE) is None


def test_an_inside_address_is_usable_when_it_is_where_the_unit_is() -> None:
    # On the centre's own network (or the tests' loopback) there is no NAT in between.
    assert remote_target("sip:unit@127.0.0.1:5090", ("127.0.0.1", 40000)) == ("127.0.0.1", 5090)
    assert remote_target("sip:u@10.0.0.7:5090", ("10.0.0.7", 5060)) == ("10.0.0.7", 5090)
    # A source that is not an address (a test double's name) does not match it.
    assert remote_target("sip:u@10.0.0.7:5090", ("unit", 5060)) is None


def test_over_tcp_the_transport_must_be_tcp() -> None:
    contact = "sip:unit@80.58.0.7:5070;transport=tcp"
    assert remote_target(contact, SOURCE, reliable=True) == ("80.58.0.7", 5070)
    # No transport named: the dialog's own.
    assert remote_target("sip:unit@80.58.0.7:5070", SOURCE, reliable=True) == ("80.58.0.7", 5070)
    assert remote_target("sip:unit@80.58.0.7:5070;transport=udp", SOURCE, reliable=True) is None
