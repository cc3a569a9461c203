import pytest

from hub.family.consent import (
    ConsentError,
    Scope,
    decode_scopes,
    encode_scopes,
    parse_scopes,
    require_scope,
)


def test_scopes_round_trip_through_the_column() -> None:
    scopes = parse_scopes(["alarms", "activity", "alarms"])
    assert scopes == {Scope.ALARMS, Scope.ACTIVITY}
    assert encode_scopes(scopes) == "activity,alarms"
    assert decode_scopes(encode_scopes(scopes)) == scopes
    assert decode_scopes("") == frozenset()
    assert decode_scopes("alarms,future_thing") == {Scope.ALARMS}


@pytest.mark.parametrize("bad", [["everything"], [1], [None], ["ALARMS"]])
def test_unknown_consents_are_refused(bad: list[object]) -> None:
    with pytest.raises(ConsentError) as err:
        parse_scopes(bad)
    assert err.value.code == "consent_invalid"


def test_nothing_granted_means_nothing_readable() -> None:
    require_scope(frozenset({Scope.ALARMS}), Scope.ALARMS)
    with pytest.raises(ConsentError) as err:
        require_scope(frozenset(), Scope.ALARMS)
    assert err.value.code == "consent_required"
    with pytest.raises(ConsentError):
        require_scope(frozenset({Scope.ALARMS}), Scope.ACTIVITY)
