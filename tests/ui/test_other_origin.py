"""The dashboard's websocket reached through another origin than its configured one, as a
LoadBalancer or an Ingress on another host name gives it: real nginx on its own port in
front of the dashboard. The websocket accepts the origin of the host the browser asked for,
and still refuses another site's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.nginx import nginx
from tests.ui.conftest import Dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def forwarded(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nginx(dashboard.url, Path(tmp_path_factory.mktemp("forward")), probe="/login") as url:
        assert url != dashboard.url
        yield url


def _handshake(url: str, origin: str) -> int:
    """The Socket.IO websocket's first request, as a browser on `origin` sends it."""
    r = httpx.get(
        f"{url}/_event/",
        params={"EIO": "4", "transport": "websocket"},
        headers={
            "Origin": origin,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        timeout=10,
    )
    return r.status_code


def test_the_websocket_takes_its_own_hosts_origin_and_refuses_another_sites(
    forwarded: str,
) -> None:
    assert _handshake(forwarded, forwarded) == 101
    assert _handshake(forwarded, "http://evil.example") in (400, 403)
