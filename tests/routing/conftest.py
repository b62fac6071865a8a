from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.routing.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 playing the webhook receiver (see webhook_receiver)."""
    server = WebhookReceiver().start()
    try:
        yield server
    finally:
        server.stop()
