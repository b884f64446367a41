"""Fixtures shared by the bot tests."""

from __future__ import annotations

import pytest
from botkit import new_user


@pytest.fixture
def user() -> int:
    """A user id no other test has used: rate limits and chat histories start empty."""
    return new_user()
