"""The family app's pages: who may open them, and their texts in ca/es/en."""

from __future__ import annotations

from hub.auth import Role
from hub.family.pages import FAMILY_CATALOG
from tests.family.conftest import World


def test_every_text_has_catalan_spanish_and_english() -> None:
    assert FAMILY_CATALOG.check() == []


async def test_pages_for_family_and_facilitators_only(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    home = await world.client.get("/family", headers=anna.headers)
    assert home.status == 200
    html = await home.text()
    assert "Maria" in html
    assert "Content-Security-Policy" in home.headers
    chat = await world.client.get(f"/family/chat/{link['conversation_id']}", headers=anna.headers)
    assert chat.status == 200
    for path in ("/family/agenda", f"/family/call/{maria.party}"):
        assert (await world.client.get(path, headers=anna.headers)).status == 200
    # A stranger cannot open someone else's chat or call them.
    stranger = await world.person()
    for path in (f"/family/chat/{link['conversation_id']}", f"/family/call/{maria.party}"):
        assert (await world.client.get(path, headers=stranger.headers)).status == 404
    # Not signed in: to the sign-in page; operators: refused; groups: facilitators only.
    anon = await world.client.get("/family", allow_redirects=False)
    assert anon.status == 302
    assert anon.headers["Location"].startswith("/login?next=/family")
    operator = await world.client.get("/family", headers=world.operator)
    assert operator.status == 403
    assert (await world.client.get("/family/groups", headers=anna.headers)).status == 403
    facilitator = await world.person(Role.FACILITATOR)
    assert (await world.client.get("/family/groups", headers=facilitator.headers)).status == 200


async def test_page_language_follows_the_request(world: World) -> None:
    anna = await world.person()
    for lang, text in (("ca", "Les meves persones"), ("es", "Mis personas"), ("en", "My people")):
        page = await world.client.get(f"/family?lang={lang}", headers=anna.headers)
        assert text in await page.text()


async def test_the_relationship_typed_when_joining_reads_in_the_pages_language(
    world: World,
) -> None:
    """Issue 23: "daughter" typed when joining reads "filla" on a Catalan home page."""
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    for lang, word in (("ca", "filla"), ("es", "hija"), ("en", "daughter")):
        page = await world.client.get(f"/family?lang={lang}", headers=anna.headers)
        assert f'<span class="muted small">{word}</span>' in await page.text(), lang


def test_the_family_screenshots_are_discovered() -> None:
    from teleassist.screenshots.cli import discover

    module = discover()["family"]
    assert module.PHONE == (390, 844)
