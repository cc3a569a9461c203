"""Fixtures of the family network tests."""

from __future__ import annotations

import pytest

from tests.family.media_samples import Samples, make_samples


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Real small photo, video and voice files (encoded once per session)."""
    return make_samples(tmp_path_factory.mktemp("media"))
