"""Reading a busy server's ``Retry-After`` header (RFC 9110 §10.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.adapters.ws_transport import retry_after


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), ("120", 120.0), (None, None), ("", None), ("soon", None),
     ("-5", None), ("1.5", None), ("Wed, 21 Oct 2015 07:28:00", None)],
)  # fmt: skip
def test_delta_seconds_and_garbage(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


def test_an_http_date_counts_from_now() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = retry_after(later)
    assert wait is not None
    assert 28 <= wait <= 31


def test_a_date_in_the_past_means_now() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
