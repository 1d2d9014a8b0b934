"""Attack group 3: fetching by URL.

No feature of Pier fetches a URL that a user supplies: artifacts are uploaded as bytes and
replicas download them from the control plane by sha256; there is no import-from-URL. The
first test holds that: no parameter or body field of either API is a URL to fetch.

One URL does reach a fetcher: each replica reports where it serves (`X-Pier-Replica-Url` on
its routing poll, an authenticated call), and the control plane's monitoring scrapes
`/metrics` and `/feedback/aggregates` there without following redirects. Replicas live on
loopback or pod addresses, so those stay allowed; another scheme, credentials in the URL
and cloud metadata (link-local) addresses are refused before anything connects.
"""

from __future__ import annotations

import json

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from inference.app import create_app
from inference.settings import InferenceSettings
from tests.security.conftest import Plane


def url_like_fields(openapi: dict) -> list[str]:
    """Parameters and schema properties that look like a URL to fetch."""
    found = []
    for path, operations in openapi.get("paths", {}).items():
        for method, op in operations.items():
            for p in op.get("parameters", []):
                name = p["name"].lower()
                if ("url" in name or "uri" in name) and name != "x-pier-replica-url":
                    found.append(f"{method.upper()} {path} {p['in']} {p['name']}")
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        for prop, spec in schema.get("properties", {}).items():
            text = json.dumps(spec)
            if "url" in prop.lower() or '"format": "uri"' in text:
                found.append(f"schema {name}.{prop}")
    return found


def test_no_route_takes_a_url_to_fetch(
    plane: Plane, tmp_path_factory: pytest.TempPathFactory
) -> None:
    control = create_api(build_platform(plane.settings)).openapi()
    inference = create_app(InferenceSettings(cache_dir=tmp_path_factory.mktemp("c"))).openapi()
    # Replicas' *own* URLs in the status answer are output, not input.
    inputs = [f for f in url_like_fields(control) if not f.startswith("schema Replica")]
    print(f"url-like inputs: control plane {inputs}, inference {url_like_fields(inference)}")
    assert inputs == []
    assert url_like_fields(inference) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]:8080",
        "http://metadata.google.internal",
        "http://0.0.0.0:8080",
        "http://255.255.255.255:8080",
        "http://user:secret@127.0.0.1:8080",
        "not a url",
    ],
)
def test_a_replica_cannot_point_the_scrapers_anywhere(plane: Plane, url: str) -> None:
    with plane.client("viewer") as c:
        r = c.get(
            "/api/v1/routing",
            headers={"X-Pier-Replica-Id": "attacker", "X-Pier-Replica-Url": url},
        )
        assert r.status_code == 422, r.text
        assert "X-Pier-Replica-Url" in r.json()["error"]["message"]
        status = c.get("/api/v1/status").json()
        assert "attacker" not in json.dumps(status), "the report was kept"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://10.1.2.3:8080",
        "https://r.svc",
        "http://240.0.12.7:8080",  # class E: pod addresses on some managed clusters
        "http://[fd00:10:244::7]:8080",  # an IPv6 pod
    ],
)
def test_real_replica_urls_are_accepted(plane: Plane, url: str) -> None:
    with plane.client("viewer") as c:
        r = c.get("/api/v1/routing", headers={"X-Pier-Replica-Id": "r", "X-Pier-Replica-Url": url})
        assert r.status_code == 200, r.text


def test_httpx_does_not_follow_redirects_by_default() -> None:
    """The scrapers use httpx's default: a redirect to a metadata address is not followed."""
    assert httpx.Client().follow_redirects is False
