"""Sign-in throttling behind a reverse proxy: real nginx in front of the control plane, as
the chart's Ingress puts one, with clients on distinct loopback addresses (127.0.0.2,
127.0.0.3). nginx reaches the API from 127.0.0.9, an address uvicorn itself does not trust,
so only Pier's own PIER_TRUSTED_PROXIES decides whose X-Forwarded-For counts."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.api.clients import client_address, throttle_key
from control_plane.composition import build_platform
from control_plane.settings import PierSettings, proxy_networks
from tests.security.conftest import PASSWORD, Plane, _add_users
from tests.support.controlplane import bootstrap
from tests.support.nginx import nginx
from tests.support.pg import temporary_database
from tests.support.servers import free_port, serve

pytestmark = pytest.mark.e2e

PROXY = "127.0.0.9"
ATTACKER, USER = "127.0.0.2", "127.0.0.3"
REDIS_URL = "redis://127.0.0.1:6379/0"
WRONG = "wrong password!"
# From an address uvicorn does not trust, appending the client as ingress-nginx does.
PROXIED = f"proxy_bind {PROXY}; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"


def sign_in(url: str, source: str, username: str, password: str, **headers: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as c:
        r = c.post(
            f"{url}/api/v1/session",
            json={"username": username, "password": password},
            headers=headers,
        )
    return r.status_code


@contextmanager
def planes(work: Path, count: int = 1, **settings: object) -> Iterator[list[str]]:
    """`count` control-plane APIs over one fresh database, each behind its own nginx."""
    with temporary_database() as db_url:
        config = PierSettings(home=work / "home", database_url=db_url, **settings)  # type: ignore[arg-type]
        tokens = bootstrap(config)
        with serve(create_api(build_platform(config))) as first:
            _add_users(Plane(url=first, settings=config, tokens={"admin": tokens.admin}))
            urls = [first]
            with contextlib.ExitStack() as stack:
                for _ in range(count - 1):
                    urls.append(stack.enter_context(serve(create_api(build_platform(config)))))
                proxied = [
                    stack.enter_context(nginx(u, work / f"nginx-{i}", PROXIED, "/api/v1/health"))
                    for i, u in enumerate(urls)
                ]
                yield proxied


def test_behind_a_trusted_proxy_one_clients_failures_lock_out_nobody_else(tmp_path: Path) -> None:
    with planes(tmp_path, trusted_proxies=PROXY) as (url,):
        tries = [sign_in(url, ATTACKER, "admin", WRONG) for _ in range(5)]
        assert tries == [401] * 5
        assert sign_in(url, ATTACKER, "admin", WRONG) == 429
        # A forged X-Forwarded-For naming the user's address changes nothing: nginx appends
        # the attacker's own address, and Pier reads the nearest untrusted hop.
        assert sign_in(url, ATTACKER, "admin", WRONG, **{"X-Forwarded-For": USER}) == 429
        assert sign_in(url, USER, "admin", PASSWORD) == 401  # its password checked, not paused
        assert sign_in(url, USER, "deployer", PASSWORD) == 200


def test_without_trusting_the_proxy_its_clients_share_one_address(tmp_path: Path) -> None:
    """What PIER_TRUSTED_PROXIES is for: every client has the ingress's address."""
    with planes(tmp_path) as (url,):
        for _ in range(5):
            sign_in(url, ATTACKER, "deployer", WRONG)
        assert sign_in(url, USER, "deployer", PASSWORD) == 429


def test_replicas_sharing_redis_count_failures_together(tmp_path: Path) -> None:
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    with planes(tmp_path, count=2, trusted_proxies=PROXY, redis_url=REDIS_URL) as (a, b):
        tries = [sign_in(url, ATTACKER, name, WRONG) for url in (a, b, a, b, a)]
        assert tries == [401] * 5
        assert sign_in(b, ATTACKER, name, WRONG) == 429
        assert sign_in(a, USER, name, WRONG) == 401  # another client is not paused


def test_with_redis_unreachable_sign_in_still_works_and_counts_in_process(
    tmp_path: Path,
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with planes(tmp_path, trusted_proxies=PROXY, redis_url=closed) as (url,):
        assert sign_in(url, USER, "deployer", PASSWORD) == 200
        assert [sign_in(url, ATTACKER, "deployer", WRONG) for _ in range(5)] == [401] * 5
        assert sign_in(url, ATTACKER, "deployer", WRONG) == 429


# ---- the address a sign-in is counted under ----------------------------------------------


TRUSTED = proxy_networks("10.0.0.0/8, 192.168.1.7")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.1.2.3", "203.0.113.5", "203.0.113.5"),  # one trusted proxy
        ("10.1.2.3", "203.0.113.5, 192.168.1.7", "203.0.113.5"),  # two
        ("10.1.2.3", "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the left one is forged
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: its header is ignored
        ("10.1.2.3", None, "10.1.2.3"),
        ("::ffff:10.1.2.3", "203.0.113.5", "203.0.113.5"),  # IPv4-mapped peer
        ("10.1.2.3", "10.9.9.9", "10.9.9.9"),  # only proxies: the farthest
    ],
)
def test_the_client_is_the_nearest_untrusted_hop(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert client_address(peer, forwarded, TRUSTED) == client


def test_an_ipv6_client_is_counted_by_its_64_block() -> None:
    assert throttle_key("2001:db8:1:2:aaaa::1") == throttle_key("2001:db8:1:2:bbbb::9")
    assert throttle_key("2001:db8:1:3::1") != throttle_key("2001:db8:1:2::1")
    assert throttle_key("203.0.113.5") == "203.0.113.5"


def test_a_bad_trusted_proxy_is_refused_at_start_naming_it() -> None:
    with pytest.raises(ValueError, match=r"expected IP addresses or networks.*got 'ingress'"):
        PierSettings(trusted_proxies="10.0.0.0/8, ingress")
