import io
from pathlib import Path

import pytest
from PIL import Image

from hub.media import (
    LocalDiskStore,
    MediaKind,
    MediaLimits,
    MediaNotFound,
    UnsupportedMedia,
    new_key,
    sniff,
    validate_media,
)
from tests.family.media_samples import Samples, photo

LIMITS = MediaLimits()


async def test_photos_get_size_and_thumbnail(media_samples: Samples) -> None:
    for data, ctype in [(media_samples.jpeg, "image/jpeg"), (media_samples.png, "image/png")]:
        result = await validate_media(data, MediaKind.PHOTO, LIMITS)
        assert result.content_type == ctype
        assert (result.width, result.height) == (64, 48)
        assert result.thumbnail is not None
        with Image.open(io.BytesIO(result.thumbnail)) as thumb:
            assert thumb.format == "JPEG"


async def test_large_photo_thumbnail_is_bounded() -> None:
    result = await validate_media(photo(1200, 900), MediaKind.PHOTO, LIMITS)
    assert result.thumbnail is not None
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert max(thumb.size) == 320


async def test_videos_and_voice_get_durations(media_samples: Samples) -> None:
    for data in (media_samples.webm_video, media_samples.mp4_video):
        video = await validate_media(data, MediaKind.VIDEO, LIMITS)
        assert video.duration_s is not None
        assert 0.5 < video.duration_s < 2
        assert (video.width, video.height) == (160, 120)
    for data in (media_samples.ogg_voice, media_samples.webm_voice):
        voice = await validate_media(data, MediaKind.VOICE, LIMITS)
        assert voice.content_type.startswith("audio/")
        assert voice.duration_s is not None
        assert 0.5 < voice.duration_s < 2


async def test_content_decides_not_the_declared_kind(media_samples: Samples) -> None:
    cases = [
        (media_samples.jpeg, MediaKind.VOICE),
        (media_samples.webm_video, MediaKind.VOICE),
        (media_samples.webm_voice, MediaKind.VIDEO),
        (media_samples.ogg_voice, MediaKind.PHOTO),
    ]
    for data, declared in cases:
        with pytest.raises(UnsupportedMedia) as err:
            await validate_media(data, declared, LIMITS)
        assert err.value.code == "media_kind_mismatch"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is plain text pretending to be a photo.jpg",
        b"GIF89a" + b"\0" * 40,
        b"%PDF-1.7\n" + b"\0" * 40,
        b"MZ\x90\x00" + b"\0" * 40,
        b"\0\0\0\x18ftypheic" + b"\0" * 40,
    ],
)
async def test_unsupported_content_is_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia) as err:
        await validate_media(data, MediaKind.PHOTO, LIMITS)
    assert err.value.code == "media_unsupported"
    assert err.value.message


async def test_corrupt_files_with_good_magic_are_refused(media_samples: Samples) -> None:
    with pytest.raises(UnsupportedMedia) as err:
        await validate_media(media_samples.jpeg[:40], MediaKind.PHOTO, LIMITS)
    assert err.value.code == "media_corrupt"
    with pytest.raises(UnsupportedMedia) as err:
        await validate_media(media_samples.webm_video[:30], MediaKind.VIDEO, LIMITS)
    assert err.value.code == "media_corrupt"


async def test_size_and_duration_limits(media_samples: Samples) -> None:
    tight = MediaLimits(photo_max_bytes=100, voice_max_s=5)
    with pytest.raises(UnsupportedMedia) as err:
        await validate_media(media_samples.jpeg, MediaKind.PHOTO, tight)
    assert err.value.code == "media_too_large"
    with pytest.raises(UnsupportedMedia) as err:
        await validate_media(media_samples.long_voice, MediaKind.VOICE, tight)
    assert err.value.code == "media_too_long"
    assert "limit is 5 s" in err.value.message


def test_sniff_knows_the_containers(media_samples: Samples) -> None:
    assert sniff(media_samples.mp4_video[:64]).content_type == "video/mp4"
    assert sniff(media_samples.ogg_voice[:64]).container == "ogg"
    assert sniff(b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 8).kinds == {MediaKind.VOICE}


async def test_local_disk_store(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    key = new_key("jpg")
    await store.put(key, b"bytes")
    assert await store.get(key) == b"bytes"
    assert store.local_path(key) is not None
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(MediaNotFound):
        await store.get(key)
    with pytest.raises(ValueError, match="not a media key"):
        await store.get("../../etc/passwd")


async def test_png_text_chunks_are_not_kept() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Carrer Major 3")
    out = io.BytesIO()
    Image.new("RGBA", (30, 20), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    assert b"Carrer Major" in out.getvalue()
    result = await validate_media(out.getvalue(), MediaKind.PHOTO, LIMITS)
    assert result.data is not None
    assert b"Carrer Major" not in result.data
    with Image.open(io.BytesIO(result.data)) as kept:
        assert (kept.format, kept.mode, kept.size) == ("PNG", "RGBA", (30, 20))
        assert kept.getpixel((5, 5)) == (0, 0, 255, 128)
