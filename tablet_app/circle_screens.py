"""The "My people" screens: who is in my circle, what each one may see, taking someone
out, and what a new person's code will let them see.

Plain words in big type: each choice is a whole sentence about the resident ("Is told when
you ask for help") with a big Yes / No button beside it; taking someone out asks first.
The :class:`~tablet_app.screens.ScreenBuilder` calls these with itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from tablet_app.circle import CIRCLE_PAGE_SIZE, SCOPE_ICONS, SCOPES, Scope
from tablet_app.icons import Icon
from tablet_app.model import Screen
from tablet_app.widgets import Face

if TYPE_CHECKING:
    from tablet_app.screens import ScreenBuilder


def circle(b: ScreenBuilder) -> Widget:
    """Everyone in the circle as big buttons, and "Add someone"."""
    m = b.m
    col = b._column()
    header = b._header(m.t("circle.title"), back=Screen.CALL)
    header.add_widget(
        b._button(
            "circle.add",
            m.t("circle.add"),
            "people",
            b.p.ok,
            m.start_new_link,
            vertical=False,
            icon_share=0.3,
            font_units=34,
            size_hint=(None, 1),
            width=b.s.u(380),
        )
    )
    col.add_widget(header)
    people = m.circle_on_page()
    if people or m.circle_not_saved:
        col.add_widget(
            b._text(
                m.t("circle.not_saved") if m.circle_not_saved else m.t("circle.hint"),
                36,
                soft=not m.circle_not_saved,
                size_hint=(1, None),
                height=b.s.u(50),
                name="circle.hint",
            )
        )
    if not people:
        col.add_widget(b._text(m.t("circle.none"), 52, name="circle.none"))
        return col
    grid = GridLayout(cols=3, spacing=b.s.u(20))
    for person in people:
        label = f"{person.name}\n({person.relationship})" if person.relationship else person.name
        grid.add_widget(
            b._button(
                f"circle.person.{person.link_id}",
                label,
                None,
                b.p.call,
                partial(m.show_member, person.link_id),
                picture=Face(person.party, name=person.name),
                icon_share=1.6 if len(m.circle) <= 3 else 0.9,
                font_units=42,
            )
        )
    # A last page that is not full keeps the buttons the size of the other pages'.
    rows = 1 if len(m.circle) <= 3 else 2
    for _ in range(rows * 3 - len(people)):
        grid.add_widget(Widget())
    col.add_widget(grid)
    if m.circle_pages() > 1:
        col.add_widget(_pager(b))
    return col


def _pager(b: ScreenBuilder) -> Widget:
    m = b.m
    page = min(m.circle_page, m.circle_pages() - 1)
    return page_turner(b, "circle", page, m.circle_pages(), len(m.circle), m.turn_circle_page)


def page_turner(
    b: ScreenBuilder,
    prefix: str,
    page: int,
    pages: int,
    total: int,
    turn: Callable[[int], None],
    per_page: int = CIRCLE_PAGE_SIZE,
) -> Widget:
    """ "Before" and "More" as big buttons, and which are shown in words ("7 to 12 of 14").

    Widgets are named ``<prefix>.before``, ``<prefix>.more`` and ``<prefix>.shown``; texts
    come from the same keys.
    """
    m = b.m
    row = BoxLayout(spacing=b.s.u(20), size_hint=(1, None), height=b.s.u(100))
    first = page * per_page + 1
    last = min(total, first + per_page - 1)

    def button(name: str, icon: str, step: int, shown: bool) -> Widget:
        if not shown:  # an empty place keeps the other button where the finger expects it
            return Widget(size_hint=(None, 1), width=b.s.u(400))
        return b._button(
            f"{prefix}.{name}",
            m.t(f"{prefix}.{name}"),
            icon,
            b.p.neutral,
            partial(turn, step),
            vertical=False,
            icon_share=0.3,
            font_units=40,
            size_hint=(None, 1),
            width=b.s.u(400),
        )

    row.add_widget(button("before", "back", -1, page > 0))
    row.add_widget(
        b._text(
            m.t(f"{prefix}.shown", first=first, last=last, total=total),
            38,
            name=f"{prefix}.shown",
        )
    )
    row.add_widget(button("more", "forward", 1, page < pages - 1))
    return row


def _choice(
    b: ScreenBuilder,
    name: str,
    scope: Scope,
    chosen: bool,
    on_tap: Callable[[], None],
    person: str | None = None,
) -> Widget:
    """One sentence about what someone may see, with a big Yes / No button."""
    m = b.m
    # 112 units: a Yes / No of at least 15 mm, and two lines of the sentence in any language.
    row = BoxLayout(spacing=b.s.u(20), padding=b.s.u(8), size_hint=(1, None), height=b.s.u(112))
    _surface(b, row)
    row.add_widget(
        Icon(name=SCOPE_ICONS[scope], color=b.p.agenda, size_hint=(None, 1), width=b.s.u(90))
    )
    row.add_widget(b._text(m.scope_text(scope, person), 38, bold=True, halign="left"))
    row.add_widget(
        b._button(
            name,
            m.t("circle.yes") if chosen else m.t("circle.no"),
            "check" if chosen else "cross",
            b.p.ok if chosen else b.p.neutral,
            on_tap,
            vertical=False,
            icon_share=0.35,
            font_units=46,
            size_hint=(None, 1),
            width=b.s.u(250),
        )
    )
    return row


def _surface(b: ScreenBuilder, widget: Widget) -> None:
    from tablet_app.screens import _fill

    _fill(widget, b.p.surface, b.s.u(20))


def member(b: ScreenBuilder) -> Widget:
    """One person: what they may see (each saved at once) and a way to take them out."""
    m = b.m
    person = m.open_member()
    if person is None:
        return circle(b)
    col = b._column(8)
    col.add_widget(b._header(person.name, back=Screen.CIRCLE))
    col.add_widget(
        b._text(
            m.t("circle.not_saved")
            if m.circle_not_saved
            else m.t("circle.always", name=person.name),
            34,
            soft=not m.circle_not_saved,
            size_hint=(1, None),
            height=b.s.u(84),  # two lines of 34 in every language
            name="member.always",
        )
    )
    for scope in SCOPES:
        col.add_widget(
            _choice(
                b,
                f"member.scope.{scope}",
                scope,
                scope in person.scopes,
                partial(m.toggle_scope, scope),
                person.name,
            )
        )
    col.add_widget(
        b._button(
            "member.remove",
            m.t("circle.remove", name=person.name),
            "cross",
            b.p.help,
            m.ask_remove_member,
            vertical=False,
            icon_share=0.25,
            font_units=38,
            size_hint=(1, None),
            height=b.s.u(92),
        )
    )
    return col


def member_remove(b: ScreenBuilder) -> Widget:
    """ "Take Anna out of your people?" with a big Yes and a big No."""
    m = b.m
    person = m.open_member()
    if person is None:
        return circle(b)
    col = b._column(24)
    col.add_widget(
        b._text(
            m.t("circle.remove.question", name=person.name),
            60,
            bold=True,
            size_hint=(1, 0.3),
            name="remove.question",
        )
    )
    col.add_widget(b._text(m.t("circle.remove.explain"), 44, size_hint=(1, 0.25)))
    row = BoxLayout(spacing=b.s.u(40), size_hint=(1, 0.45))
    row.add_widget(
        b._button(
            "remove.no",
            m.t("circle.remove.no"),
            "check",
            b.p.ok,
            partial(m.go, Screen.MEMBER),
            font_units=56,
        )
    )
    row.add_widget(
        b._button(
            "remove.yes",
            m.t("circle.remove.yes"),
            "cross",
            b.p.help,
            m.remove_member,
            font_units=56,
        )
    )
    col.add_widget(row)
    return col


def link_grant(b: ScreenBuilder) -> Widget:
    """Before the code: what the new person may see (nothing more unless chosen)."""
    m = b.m
    col = b._column(8)
    col.add_widget(b._header(m.t("circle.add"), back=Screen.CIRCLE))
    col.add_widget(
        b._text(
            m.t("circle.new.question"),
            44,
            bold=True,
            size_hint=(1, None),
            height=b.s.u(70),
        )
    )
    for scope in SCOPES:
        col.add_widget(
            _choice(
                b,
                f"grant.scope.{scope}",
                scope,
                scope in m.link_grants,
                partial(m.toggle_grant, scope),
            )
        )
    col.add_widget(
        b._button(
            "grant.make",
            m.t("circle.new.make"),
            "people",
            b.p.messages,
            m.ask_link_code,
            vertical=False,
            icon_share=0.25,
            font_units=46,
            size_hint=(1, None),
            height=b.s.u(92),
        )
    )
    return col


def granted(b: ScreenBuilder) -> Widget:
    """Under a linking code: what it lets the person do, line by line."""
    m = b.m
    box = BoxLayout(orientation="vertical", spacing=b.s.u(6), size_hint=(1, 0.34))
    chosen = [s for s in SCOPES if s in m.link_granted]
    if not chosen:
        box.add_widget(b._text(m.t("link.grants_none"), 40, name="link.grants"))
        return box
    box.add_widget(b._text(m.t("link.grants"), 38, name="link.grants"))
    for scope in chosen:
        box.add_widget(
            b._text("• " + m.scope_text(scope), 40, bold=True, name=f"link.grant.{scope}")
        )
    return box
