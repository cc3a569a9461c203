"""The key-safe key can be rotated (issue 19: how to rotate secrets): the old key keeps
reading while ``teleassist hub rotate-keysafe-key`` re-encrypts homes' key-safe codes and
carephone keys with the new one; afterwards the new key alone reads them. SQLite and
PostgreSQL."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from config import ConfigError
from hub.carephones.models import CarephoneUnit
from hub.cli import _rotate_keysafe_key
from hub.db import make_engine, make_sessionmaker
from hub.db.crypto import KeySafeCipher, KeySafeCipherError
from hub.db.models import Device, Home
from hub.family.settings import FamilySettings
from hub.prodcheck import production_problems
from hub.settings import HubSettings, with_secrets
from teleassist.config import MqttSettings


def _key() -> str:
    return Fernet.generate_key().decode("ascii")


def test_previous_keys_read_and_rotate_writes_with_the_current_one() -> None:
    old, new = _key(), _key()
    token = KeySafeCipher(old).encrypt("4821")
    both = KeySafeCipher(new, [old])
    assert both.decrypt(token) == "4821"
    rotated = both.rotate(token)
    assert KeySafeCipher(new).decrypt(rotated) == "4821"
    with pytest.raises(KeySafeCipherError):
        KeySafeCipher(old).decrypt(both.encrypt("1234"))  # new values use the new key
    with pytest.raises(KeySafeCipherError):
        KeySafeCipher(new).rotate(KeySafeCipher(_key()).encrypt("x"))


def test_a_previous_key_that_is_not_a_fernet_key_is_refused(tmp_path: object) -> None:
    settings = HubSettings(data_dir=str(tmp_path), keysafe_previous_keys=["not-a-key"])
    with pytest.raises(ConfigError, match="keysafe_previous_keys"):
        with_secrets(settings)


async def test_the_command_rotates_every_value_at_rest(
    hub_settings: HubSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, lost = _key(), _key(), _key()
    engine = make_engine(hub_settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            homes = [
                Home(address="A", key_safe_code_enc=KeySafeCipher(old).encrypt("4821")),
                Home(address="B", key_safe_code_enc=KeySafeCipher(lost).encrypt("9999")),
                Home(address="C"),
            ]
            session.add_all(homes)
            await session.flush()
            session.add(Device(id="cp-1", home_id=homes[0].id, type="carephone"))
            await session.flush()
            session.add(
                CarephoneUnit(
                    device_id="cp-1",
                    account="1234",
                    prefix="L1",
                    key_encrypted=KeySafeCipher(old).encrypt("00FF" * 8),
                )
            )
            await session.commit()
            ids = [h.id for h in homes]
        settings = msgspec.structs.replace(
            hub_settings, keysafe_key=new, keysafe_previous_keys=[old]
        )
        # One value nobody can read any more: reported, the others still rotated.
        assert await _rotate_keysafe_key(settings) == 1
        out = capsys.readouterr()
        assert "2 values re-encrypted" in out.out
        assert f"home:{ids[1]}" in out.err
        only_new = KeySafeCipher(new)
        async with make_sessionmaker(engine)() as session:
            home = await session.get(Home, ids[0])
            assert home is not None
            assert home.key_safe_code(only_new) == "4821"
            unit = await session.scalar(select(CarephoneUnit))
            assert unit is not None
            assert only_new.decrypt(unit.key_encrypted or "") == "00FF" * 8
            untouched = await session.get(Home, ids[2])
            assert untouched is not None
            assert untouched.key_safe_code_enc is None
    finally:
        await engine.dispose()


def test_production_refuses_a_bad_previous_key(hub_settings: HubSettings) -> None:
    settings = msgspec.structs.replace(hub_settings, keysafe_previous_keys=["nope"])
    problems = production_problems(
        settings, FamilySettings(), MqttSettings(password="x" * 40), environ={}
    )
    assert "[hub] keysafe_previous_keys holds a value that is not a Fernet key" in problems
