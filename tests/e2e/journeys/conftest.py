"""One running installation per journey module (`tests.e2e.stack`), for one office: UBND phường
Bến Nghé, its hotline and the number citizens text. When a module is done, every SMS its journey
sent over the air is checked to read as people read (`tests.readable`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.stack import Stack, running_stack
from tests.readable import assert_readable

OFFICE = {
    "HOSO_SMS_OFFICE": "UBND phường Bến Nghé",
    "HOSO_SMS_HOTLINE": "028 3822 1234",
    "HOSO_SMS_NUMBER": "0912 345 678",
}


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The module's installation; a module may set `STACK = {"high_caps": False, ...}`."""
    options: dict[str, Any] = dict(getattr(request.module, "STACK", {}))
    high_caps = bool(options.pop("high_caps", True))
    home = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with running_stack(home, high_caps, **(OFFICE | options)) as running:
        yield running
        # Every SMS the journey made people read (the ledger: what went over the air).
        for sms in running.sent():
            assert_readable(f"the SMS to {sms['to']}", sms["text"])
