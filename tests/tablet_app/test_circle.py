"""My people on the tablet: the model without a window, then touches in a real Kivy window
(each choice, taking someone out, a code that grants what was chosen), in ca, es and en."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tablet_app.circle import ChangeConsent, CircleMember, LoadCircle, RemoveMember
from tablet_app.i18n import LANGUAGES, Lang
from tablet_app.model import RequestLinkCode, Screen, TabletModel
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)

PEOPLE = [
    CircleMember("11", "u:3", "Anna", "filla", frozenset({"alarms"})),
    CircleMember("12", "u:4", "Pau", "nét"),
]


def _model(lang: Lang = "en") -> TabletModel:
    model = TabletModel(language=lang, online=True)
    model.circle = list(PEOPLE)
    return model


def test_a_choice_is_saved_at_once_and_shown() -> None:
    model = _model()
    model.open_circle()
    assert model.take_effects() == [LoadCircle()]
    model.show_member("11")
    model.toggle_scope("agenda")
    model.toggle_scope("alarms")
    assert model.take_effects() == [
        ChangeConsent("11", ("alarms", "agenda"), before=PEOPLE[0]),
        ChangeConsent(
            "11",
            ("agenda",),
            before=CircleMember("11", "u:3", "Anna", "filla", frozenset({"alarms", "agenda"})),
        ),
    ]
    assert model.open_member() is not None
    assert model.open_member().scopes == frozenset({"agenda"})  # type: ignore[union-attr]


def test_taking_someone_out_asks_first() -> None:
    model = _model()
    model.show_member("12")
    model.ask_remove_member()
    assert model.screen is Screen.MEMBER_REMOVE
    model.go(Screen.MEMBER)  # "No, keep"
    assert model.take_effects() == []
    model.ask_remove_member()
    model.remove_member()
    assert model.take_effects() == [RemoveMember("12", before=PEOPLE[1])]
    assert [m.name for m in model.circle] == ["Anna"]
    assert model.screen is Screen.CIRCLE
    model.remove_member()  # nobody open: nothing happens
    assert model.take_effects() == []


def test_a_change_the_hub_did_not_get_is_undone_on_screen_and_said() -> None:
    model = _model()
    model.show_member("11")
    model.toggle_scope("alarms")  # no longer told of alarms... on screen only
    [change] = model.take_effects()
    assert isinstance(change, ChangeConsent)
    assert change.before is not None
    model.circle_change_failed(change.before)
    assert model.open_member() == PEOPLE[0]  # told of alarms again, as on the hub
    assert model.circle_not_saved
    model.ask_remove_member()
    model.remove_member()
    [removal] = model.take_effects()
    assert isinstance(removal, RemoveMember)
    assert not model.circle_not_saved
    assert removal.before is not None
    model.circle_change_failed(removal.before)
    assert [m.name for m in model.circle] == ["Pau", "Anna"]  # back, as on the hub
    assert model.circle_not_saved
    model.open_circle()
    assert not model.circle_not_saved


def test_someone_taken_out_elsewhere_closes_their_screen() -> None:
    model = _model()
    model.show_member("12")
    model.set_circle([PEOPLE[0]])
    assert model.screen is Screen.CIRCLE
    assert model.open_member() is None


def test_a_new_code_grants_only_what_was_chosen() -> None:
    model = _model()
    model.start_new_link()
    assert model.screen is Screen.LINK_GRANT
    assert model.link_grants == frozenset()
    model.toggle_grant("agenda")
    model.toggle_grant("alarms")
    model.toggle_grant("agenda")
    model.ask_link_code()
    assert model.take_effects() == [RequestLinkCode(("alarms",))]
    assert model.screen is Screen.LINK
    assert model.link_granted == frozenset({"alarms"})
    # "Add someone" again starts from nothing.
    model.start_new_link()
    model.ask_link_code()
    assert model.take_effects() == [RequestLinkCode(())]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_choice_reads_as_a_sentence_with_the_name(lang: Lang) -> None:
    model = _model(lang)
    for scope in ("alarms", "activity", "agenda"):
        text = model.scope_text(scope, "Anna")  # type: ignore[arg-type]
        assert text.startswith("Anna ")
        assert "{" not in text
        assert not model.scope_text(scope).startswith("Anna")  # type: ignore[arg-type]


@pytest.fixture
def view(kivy_window: Any) -> Iterator[Any]:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    model = _model()
    widget = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(widget)
    pump()
    yield widget
    widget.detach()
    kivy_window.remove_widget(widget)


def find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find as find_widget

    return find_widget(view, name)


@pytest.mark.tablet
def test_touches_choose_what_each_person_sees_and_take_someone_out(view: Any) -> None:
    model = view.model
    model.go(Screen.CALL)
    pump()
    tap(find(view, "circle.open"))
    assert view.shown is Screen.CIRCLE
    tap(find(view, "circle.person.11"))
    assert view.shown is Screen.MEMBER
    assert find(view, "member.scope.alarms").label.text == "Yes"
    assert find(view, "member.scope.agenda").label.text == "No"
    tap(find(view, "member.scope.agenda"))
    pump()
    assert find(view, "member.scope.agenda").label.text == "Yes"
    tap(find(view, "member.remove"))
    assert view.shown is Screen.MEMBER_REMOVE
    assert find(view, "remove.question").text == "Take Anna out of your people?"
    tap(find(view, "remove.no"))
    assert view.shown is Screen.MEMBER
    tap(find(view, "member.remove"))
    tap(find(view, "remove.yes"))
    assert view.shown is Screen.CIRCLE
    effects = model.take_effects()
    assert [type(e) for e in effects] == [LoadCircle, ChangeConsent, RemoveMember]
    assert effects[1].scopes == ("alarms", "agenda")  # type: ignore[union-attr]
    assert effects[2].link_id == "11"  # type: ignore[union-attr]


@pytest.mark.tablet
def test_touches_make_a_code_that_says_what_it_grants(view: Any) -> None:
    model = view.model
    model.open_circle()
    pump()
    tap(find(view, "circle.add"))
    assert view.shown is Screen.LINK_GRANT
    tap(find(view, "grant.scope.alarms"))
    tap(find(view, "grant.make"))
    assert view.shown is Screen.LINK
    assert model.take_effects()[-1] == RequestLinkCode(("alarms",))
    assert (
        find(view, "link.grants").text == "With this code they can message and call you. And also:"
    )
    assert find(view, "link.grant.alarms").text == "• The new person is told when you ask for help"


@pytest.mark.tablet
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_line_fits_in_big_type_in_each_language(kivy_window: Any, lang: Lang) -> None:
    """Drawn in the real window: no sentence of these screens is cut off or shrunk below
    34 px (at 1280×800), and every button is a big target."""
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import Text, buttons, walk

    model = _model(lang)
    model.circle = [
        CircleMember("11", "u:3", "Montserrat", "filla", frozenset({"alarms"})),
        *PEOPLE[1:],
    ]
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        scenes = {
            "circle": model.open_circle,
            "member": lambda: model.show_member("11"),
            "remove": model.ask_remove_member,
            "grant": model.start_new_link,
            "code": model.ask_link_code,
            "not saved": lambda: (
                model.show_member("11"),
                model.circle_change_failed(model.circle[0]),
            ),
            "not saved, circle": lambda: (model.go(Screen.CIRCLE), model.changed()),
        }
        for name, scene in scenes.items():
            scene()
            if name == "grant":
                for scope in ("alarms", "activity", "agenda"):
                    model.toggle_grant(scope)  # so the code screen lists every sentence
            pump(4)
            assert view.shown is model.screen
            texts = [w for w in walk(view.content) if isinstance(w, Text) and w.text.strip()]
            assert texts, name
            for text in texts:
                assert_fits(text, 34, (name, lang))
            for button in buttons(view.content):
                assert min(button.size) >= view.sizes().min_target, (name, button.name)
    finally:
        view.detach()
        kivy_window.remove_widget(view)


def _crowd(count: int) -> list[CircleMember]:
    return [CircleMember(str(100 + i), f"u:{100 + i}", f"P{i:02d}", "") for i in range(count)]


def test_a_large_circle_turns_pages_of_six() -> None:
    model = _model()
    model.circle = _crowd(14)
    model.open_circle()
    assert model.circle_pages() == 3
    assert [p.name for p in model.circle_on_page()] == [f"P{i:02d}" for i in range(6)]
    model.turn_circle_page(-1)  # already on the first page: stays
    assert model.circle_page == 0
    model.turn_circle_page(1)
    model.turn_circle_page(1)
    assert [p.name for p in model.circle_on_page()] == ["P12", "P13"]
    model.turn_circle_page(1)  # already on the last page: stays
    assert model.circle_page == 2
    # Both people of the last page taken out (one here, one elsewhere): the page shown
    # is then the new last page, never an empty one.
    model.show_member("113")
    model.ask_remove_member()
    model.remove_member()
    assert [p.name for p in model.circle_on_page()] == ["P12"]
    model.set_circle(model.circle[:-1])
    assert model.circle_page == 1
    assert [p.name for p in model.circle_on_page()] == [f"P{i:02d}" for i in range(6, 12)]
    # Opening My people again starts at the first page.
    model.open_circle()
    assert model.circle_page == 0


def test_a_circle_of_six_or_fewer_has_one_page() -> None:
    model = _model()
    for count in (0, 1, 6):
        model.circle = _crowd(count)
        assert model.circle_pages() == 1
        assert len(model.circle_on_page()) == count


@pytest.mark.tablet
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_person_of_a_large_circle_is_reached_with_big_buttons(
    kivy_window: Any, lang: Lang
) -> None:
    """14 people: three pages of big buttons, "More people" and "Before" take the resident
    through all of them, the words say which are shown, and every line fits."""
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import Text, buttons, walk

    model = _model(lang)
    model.circle = _crowd(14)
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        model.open_circle()
        pump(4)
        seen: list[str] = []
        first_size: set[tuple[int, ...]] = set()
        for page in range(3):
            people = [b for b in buttons(view.content) if b.name.startswith("circle.person.")]
            seen += [b.name.removeprefix("circle.person.") for b in people]
            assert len(people) == (6 if page < 2 else 2)
            # Same big size on every page, a full one or not.
            sizes = {tuple(round(v) for v in b.size) for b in people}
            assert len(sizes) == 1
            first_size = first_size or sizes
            assert sizes == first_size
            shown = find(view, "circle.shown").text
            assert (
                shown
                == {
                    "ca": ("1 a 6 de 14", "7 a 12 de 14", "13 a 14 de 14"),
                    "es": ("1 a 6 de 14", "7 a 12 de 14", "13 a 14 de 14"),
                    "en": ("1 to 6 of 14", "7 to 12 of 14", "13 to 14 of 14"),
                }[lang][page]
            )
            names = {b.name for b in buttons(view.content)}
            assert ("circle.before" in names) is (page > 0)
            assert ("circle.more" in names) is (page < 2)
            for text in (w for w in walk(view.content) if isinstance(w, Text) and w.text):
                assert_fits(text, 34, (page, lang))
            for button in buttons(view.content):
                assert min(button.size) >= view.sizes().min_target, button.name
            if page < 2:
                tap(find(view, "circle.more"))
                pump(2)
        assert sorted(seen) == [str(100 + i) for i in range(14)]  # each person once
        tap(find(view, "circle.before"))
        pump(2)
        assert find(view, "circle.shown").text.startswith("7 ")
        tap(find(view, "circle.person.107"))
        assert view.shown is Screen.MEMBER
        assert model.open_member() == model.circle[7]
    finally:
        view.detach()
        kivy_window.remove_widget(view)
