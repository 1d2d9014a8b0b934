"""Every route of the control plane's API while its PostgreSQL is down: never a 500, a 503
with Retry-After where the route needs SQL, and the same API serves again once SQL is back,
without a restart. A private PostgreSQL on a free port (never the shared one)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from bench.faults.services import Postgres
from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.settings import PierSettings
from tests.support.controlplane import bootstrap
from tests.support.servers import serve, wait_until

pytestmark = pytest.mark.postgres

PATH_VALUES = {"name": "iris", "version": "v1", "sha256": "0" * 64, "token_id": "1"}
PATH_VALUES["action"] = "pause"


def _calls(api_schema: dict[str, dict[str, dict[str, object]]]) -> list[tuple[str, str]]:
    found = []
    for path, ops in api_schema["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        found += [(method.upper(), concrete) for method in ops]
    return found


@pytest.fixture(scope="module")
def down_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Postgres]]:
    home = tmp_path_factory.mktemp("home")
    with Postgres() as pg:
        settings = PierSettings(home=home, database_url=pg.url)
        tokens = bootstrap(settings)
        with serve(create_api(build_platform(settings))) as url:
            yield url, tokens.admin, pg


def test_every_route_answers_503_with_retry_after_never_500(
    down_api: tuple[str, str, Postgres],
) -> None:
    url, token, pg = down_api
    schema = httpx.get(f"{url}/api/v1/openapi.json").json()
    calls = _calls(schema)
    assert len(calls) >= 20
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        assert c.get("/api/v1/models").status_code == 200
        pg.stop()
        try:
            codes: Counter[int] = Counter()
            for method, path in calls:
                r = c.request(method, path, json={} if method in ("POST", "PUT") else None)
                codes[r.status_code] += 1
                assert r.status_code < 500 or r.status_code == 503, (method, path, r.text)
                if r.status_code == 503:
                    assert r.headers.get("retry-after", "").isdigit(), (method, path)
                    body = r.json()["error"]
                    assert body["type"] == "database_unavailable", (method, path, body)
                    assert "database is unavailable" in body["message"]
            print(f"\n{len(calls)} calls with PostgreSQL down: {dict(codes)}")
            # The routes that need SQL (nearly all) said so; the others answered as usual.
            assert codes[503] >= 20
        finally:
            pg.start()
        # Back without a restart: the pool replaces the connections the server dropped.
        wait_until(lambda: c.get("/api/v1/models").status_code == 200, timeout=30)
        assert c.get("/api/v1/status").status_code == 200
