"""The photo gallery: every photo of the resident's people, newest first, three a page.

Pages with big "Before" / "More photos" buttons as on My people (no scrolling); a photo
opens full screen and its Back button comes back here. Each picture says who sent it and
when, in words.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from tablet_app.circle_screens import page_turner
from tablet_app.model import GALLERY_PAGE_SIZE, Screen

if TYPE_CHECKING:
    from tablet_app.screens import ScreenBuilder


def gallery_screen(b: ScreenBuilder) -> Widget:
    """Six photos as big buttons (picture, then who and when), and the page turner."""
    from tablet_app.wording import day_words

    m = b.m
    col = b._column()
    col.add_widget(b._header(m.t("gallery.title"), back=Screen.MESSAGES))
    photos = m.gallery_on_page()
    grid = GridLayout(cols=GALLERY_PAGE_SIZE, spacing=b.s.u(20))
    now = b.clock()
    for photo in photos:
        who = m.contact(photo.contact_id)
        cell = BoxLayout(orientation="vertical", spacing=b.s.u(4))
        cell.add_widget(
            b._button(
                f"gallery.photo.{photo.id}",
                "",
                None,
                b.p.surface,
                partial(m.open_photo, photo.id, Screen.GALLERY),
                picture=Image(source=photo.media or "", fit_mode="contain"),
                icon_share=8.0,
            )
        )
        words = f"{who.name if who else ''}\n{day_words(photo.sent_at, now, m.language)}"
        cell.add_widget(
            b._text(words, 34, size_hint=(1, None), height=b.s.u(90), name="gallery.caption")
        )
        grid.add_widget(cell)
    for _ in range(GALLERY_PAGE_SIZE - len(photos)):
        grid.add_widget(Widget())
    col.add_widget(grid)
    if m.gallery_pages() > 1:
        page = min(m.gallery_page, m.gallery_pages() - 1)
        total = len(m.gallery_photos())
        pages = m.gallery_pages()
        turner = page_turner(
            b, "gallery", page, pages, total, m.turn_gallery_page, per_page=GALLERY_PAGE_SIZE
        )
        col.add_widget(turner)
    return col
