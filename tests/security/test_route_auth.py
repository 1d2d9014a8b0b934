"""Attack group 4: authentication on every route.

The control plane's routes are walked from its FastAPI app (every method, DELETE included);
each must be in EXPECTED, the least role it needs (None: public), and a new route fails the
test until someone decides who may call it. Each is then called without a token and with a
viewer, deployer and admin token: 401 without one, 403 below the role, neither above it,
and never a 5xx. The inference service's routes are walked the same way, open by default
and behind API keys when the deployment names some (inference/http/auth.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from inference.app import create_app
from inference.http.auth import OPEN_PATHS
from inference.settings import InferenceSettings
from tests.security.conftest import ROLES, Plane, replica, stocked_cache

V, D, A = "viewer", "deployer", "admin"

# (method, path) -> the least role that may call it; None: anyone, signed in or not.
EXPECTED: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v1/openapi.json"): None,
    ("GET", "/api/v1/docs"): None,
    ("GET", "/docs/oauth2-redirect"): None,
    ("GET", "/api/v1/health"): None,
    # Sign-in takes a password, sign-out a session cookie (test_dashboard covers both).
    ("POST", "/api/v1/session"): None,
    ("DELETE", "/api/v1/session"): None,
    ("GET", "/api/v1/models"): V,
    ("GET", "/api/v1/models/{name}"): V,
    ("GET", "/api/v1/models/{name}/versions"): V,
    ("GET", "/api/v1/models/{name}/versions/{version}"): V,
    ("POST", "/api/v1/models/{name}/versions"): D,
    ("POST", "/api/v1/artifacts"): D,
    ("GET", "/api/v1/artifacts/{sha256}"): V,
    ("GET", "/api/v1/models/{name}/deployment"): V,
    ("PUT", "/api/v1/models/{name}/deployment"): D,
    ("PUT", "/api/v1/models/{name}/shadow"): D,
    ("POST", "/api/v1/models/{name}/deploy"): D,
    ("POST", "/api/v1/models/{name}/rollback"): D,
    ("GET", "/api/v1/audit"): V,
    ("GET", "/api/v1/routing"): V,
    ("GET", "/api/v1/status"): V,
    ("GET", "/api/v1/tokens"): A,
    ("POST", "/api/v1/tokens"): A,
    ("DELETE", "/api/v1/tokens/{token_id}"): A,
    ("POST", "/api/v1/users"): A,
    ("POST", "/api/v1/models/{name}/canaries"): D,
    ("GET", "/api/v1/models/{name}/canaries"): V,
    ("POST", "/api/v1/models/{name}/canaries/current/{action}"): D,
    ("GET", "/api/v1/models/{name}/scaling"): V,
    ("PUT", "/api/v1/models/{name}/scaling"): D,
    ("GET", "/api/v1/models/{name}/thresholds"): V,
    ("PUT", "/api/v1/models/{name}/thresholds"): D,
    ("GET", "/api/v1/models/{name}/experiment"): V,
    ("GET", "/api/v1/models/{name}/metrics"): V,
    ("GET", "/api/v1/metrics/summary"): V,
}

# Inference routes whose callers are probes and scrapers: open even with API keys on.
INFERENCE_OPEN = {"/healthz", "/v2/health/live", "/v2/health/ready", "/metrics"}
INFERENCE_OPEN |= {"/feedback/aggregates"}

PARAMS = {
    "name": "nosuch",
    "version": "v1",
    "sha256": "0" * 64,
    "token_id": "999999",
    "action": "pause",
    "model": "iris",
}


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside (it mirrors GET)."""
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def concrete(path: str) -> str:
    for key, value in PARAMS.items():
        path = path.replace("{" + key + "}", value)
    return path


def call(c: httpx.Client, method: str, path: str) -> httpx.Response:
    if method in ("POST", "PUT", "PATCH"):
        return c.request(method, concrete(path), json={})
    return c.request(method, concrete(path))


@pytest.fixture(scope="module")
def control_plane_routes(plane: Plane) -> set[tuple[str, str]]:
    return routes_of(create_api(build_platform(plane.settings)))


def test_every_control_plane_route_has_an_expectation(
    control_plane_routes: set[tuple[str, str]],
) -> None:
    unknown = sorted(control_plane_routes - EXPECTED.keys())
    assert not unknown, (
        f"new routes: decide who may call them, then add them to EXPECTED: {unknown}"
    )
    gone = sorted(EXPECTED.keys() - control_plane_routes)
    assert not gone, f"EXPECTED names routes that no longer exist: {gone}"


@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda r: f"{r[0]} {r[1]}")
def test_control_plane_route_answers_by_role(plane: Plane, route: tuple[str, str]) -> None:
    method, path = route
    needed = EXPECTED[route]
    rank = {V: 0, D: 1, A: 2}
    seen = {}
    with plane.client(None) as anonymous:
        r = call(anonymous, method, path)
        seen["none"] = r.status_code
        if needed is None:
            assert r.status_code not in (401, 403), r.text
        else:
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"] == "Bearer"
    with plane.client(None, Authorization="Bearer pier_forged-token-0000000000000000") as forged:
        if needed is not None:
            assert call(forged, method, path).status_code == 401
    for role in ROLES:
        with plane.client(role) as c:
            r = call(c, method, path)
        seen[role] = r.status_code
        assert r.status_code < 500, f"{role}: {r.status_code} {r.text}"
        if needed is not None and rank[role] < rank[needed]:
            assert r.status_code == 403, f"{role}: {r.status_code} {r.text}"
            assert needed in r.json()["error"]["message"]
        else:
            assert r.status_code not in (401, 403), f"{role}: {r.status_code} {r.text}"
    print(f"{method} {path} (needs {needed or 'nothing'}): {seen}")


# --- the inference service -------------------------------------------------------------


def test_the_open_paths_are_the_documented_ones() -> None:
    assert OPEN_PATHS == INFERENCE_OPEN


@pytest.fixture(scope="module")
def inference_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    return routes_of(create_app(InferenceSettings(cache_dir=tmp_path_factory.mktemp("c"))))


KEY = "pier-inference-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory: pytest.TempPathFactory, good_model: Path) -> Iterator[str]:
    """A replica that requires one of two keys, the second from a file (a mounted Secret)."""
    cache = stocked_cache(tmp_path_factory.mktemp("keyed"), good_model)
    key_file = cache / "keys"
    key_file.write_text("# rotated in\nsecond-key-abcdefghijklmnop\n")
    with replica(cache, api_keys=KEY, api_keys_file=key_file) as url:
        yield url


def test_inference_is_open_by_default(
    inference_url: str, inference_routes: set[tuple[str, str]]
) -> None:
    with httpx.Client(base_url=inference_url, timeout=30) as c:
        for method, path in sorted(inference_routes):
            r = call(c, method, path)
            assert r.status_code not in (401, 403) and r.status_code < 500, (method, path, r.text)


def test_inference_routes_need_a_key_when_keys_are_set(
    keyed_url: str, inference_routes: set[tuple[str, str]], capfd: pytest.CaptureFixture[str]
) -> None:
    protected = sorted(r for r in inference_routes if r[1] not in INFERENCE_OPEN)
    assert ("POST", "/predict") in protected and ("POST", "/v2/models/{model}/infer") in protected
    with httpx.Client(base_url=keyed_url, timeout=30) as c:
        for method, path in sorted(inference_routes):
            anonymous = call(c, method, path)
            if (method, path) not in protected:
                assert anonymous.status_code == 200, (method, path, anonymous.text)
                continue
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            body = anonymous.json()
            message = body["error"] if path.startswith("/v2") else body["error"]["message"]
            assert "missing API key" in message
            wrong = c.request(method, concrete(path), headers={"X-API-Key": KEY[:-1] + "X"})
            assert wrong.status_code == 401
            for headers in ({"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}):
                r = c.request(
                    method,
                    concrete(path),
                    headers=headers,
                    **({"json": {}} if method == "POST" else {}),
                )
                assert r.status_code not in (401, 403) and r.status_code < 500, (path, r.text)
        print(f"{len(protected)} protected inference routes, {len(INFERENCE_OPEN)} open")
        # A real prediction with the key from the file.
        r = c.post(
            "/predict",
            json={"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2]]},
            headers={"Authorization": "Bearer second-key-abcdefghijklmnop"},
        )
        assert r.status_code == 200, r.text
    out, err = capfd.readouterr()
    assert KEY not in out + err and "second-key" not in out + err, "a key was logged"


def test_inference_keys_are_not_shown_in_settings() -> None:
    settings = InferenceSettings(api_keys=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
