"""Attack group 2: path traversal in every name and path a user controls.

Every route with a path parameter, and every query parameter of every GET route, of both
services, is called with `../`, `..\\`, URL-encoded and double-encoded forms, absolute
paths and NUL bytes, sent byte for byte (no client-side normalisation). Each answer is a
4xx naming what was expected; none is a 5xx, none serves a file. Names are checked against
allow-list patterns, and stored artifacts are addressed by their sha256 only.
"""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from control_plane.api.app import create_api
from control_plane.artifacts import ArtifactStore
from control_plane.composition import build_platform
from control_plane.errors import NotFound
from control_plane.schemas import LABEL_RE, NAME_RE
from inference.app import create_app
from inference.settings import InferenceSettings
from tests.security.conftest import Plane
from tests.security.test_route_auth import PARAMS, routes_of

# Each is already in the form it travels in on the request line.
HOSTILE = {
    "dotdot": "../../../../etc/passwd",
    "backslash": "..%5C..%5C..%5Cetc%5Cpasswd",
    "encoded": "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "double-encoded": "..%252F..%252F..%252Fetc%252Fpasswd",
    "dots-encoded": "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "absolute": "%2Fetc%2Fpasswd",
    "nul": "iris%00.pt",
    "nul-dotdot": "..%2F..%2Fpier.db%00",
}
SECRET_MARKERS = ("root:", "SQLite format", "pier_", "BEGIN")


def raw_request(base: str, method: str, target: str, token: str | None) -> tuple[int, str]:
    """Send `target` exactly as given on the request line."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if method in ("POST", "PUT"):
        body = json.dumps({"model": "x", "inputs": [[0, 0, 0, 0]]})
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def targets(routes: set[tuple[str, str]], openapi: dict) -> list[tuple[str, str]]:
    """(method, request target) for each hostile value in each user-controlled slot."""
    out = []
    for method, path in sorted(routes):
        slots = re.findall(r"\{(\w+)\}", path)
        for i in range(len(slots)):
            for value in HOSTILE.values():
                concrete = path
                for j, other in enumerate(slots):
                    concrete = concrete.replace(
                        "{" + other + "}", value if i == j else PARAMS[other]
                    )
                out.append((method, concrete))
        if method != "GET":
            continue
        filled = path
        for slot in slots:
            filled = filled.replace("{" + slot + "}", PARAMS[slot])
        operation = openapi.get("paths", {}).get(path, {}).get("get", {})
        for param in operation.get("parameters", []):
            if param["in"] == "query":
                for value in HOSTILE.values():
                    out.append((method, f"{filled}?{param['name']}={value}"))
    return out


def _check(status: int, body: str, method: str, target: str) -> None:
    assert status < 500, f"{method} {target}: {status} {body[:300]}"
    if status == 200:
        # A list endpoint may answer 200 to a filter that matches nothing; it never serves
        # a file's bytes.
        assert not any(m in body for m in SECRET_MARKERS), f"{method} {target}: {body[:300]}"
    else:
        assert 400 <= status < 500, f"{method} {target}: {status}"


def test_control_plane_routes_refuse_traversal(plane: Plane) -> None:
    app = create_api(build_platform(plane.settings))
    routes = routes_of(app)
    cases = targets(routes, app.openapi())
    statuses: dict[int, int] = {}
    for method, target in cases:
        status, body = raw_request(plane.url, method, target, plane.tokens["admin"])
        statuses[status] = statuses.get(status, 0) + 1
        _check(status, body, method, target)
    print(f"control plane: {len(cases)} hostile requests, answers by status: {statuses}")


def test_inference_routes_refuse_traversal(
    inference_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = create_app(InferenceSettings(cache_dir=tmp_path_factory.mktemp("c")))
    cases = targets(routes_of(app), app.openapi())
    statuses: dict[int, int] = {}
    for method, target in cases:
        status, body = raw_request(inference_url, method, target, None)
        statuses[status] = statuses.get(status, 0) + 1
        _check(status, body, method, target)
    print(f"inference: {len(cases)} hostile requests, answers by status: {statuses}")


@pytest.mark.parametrize(
    "value", ["../../etc/passwd", "/etc/passwd", "iris\x00", "..\\x", "iris/../x"]
)
def test_names_in_bodies_are_checked_against_the_allow_list(plane: Plane, value: str) -> None:
    assert not NAME_RE.match(value) and not LABEL_RE.match(value)
    with plane.client("admin") as c:
        r = c.post(f"/api/v1/models/{quote(value, safe='')}/deploy", json={"version": value})
        assert 400 <= r.status_code < 500, r.text
        r = c.post("/api/v1/tokens", json={"name": value, "role": "viewer", "username": value})
        assert 400 <= r.status_code < 500, r.text


def test_inference_model_names_in_bodies(inference_url: str) -> None:
    port = int(inference_url.rsplit(":", 1)[1])
    for value in ("../../etc/passwd", "/etc/passwd", "iris\x00"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(
                "POST",
                "/predict",
                body=json.dumps({"model": value, "inputs": [[0, 0, 0, 0]]}),
                headers={"Content-Type": "application/json"},
            )
            r = conn.getresponse()
            text = r.read().decode()
        finally:
            conn.close()
        assert r.status == 404 and "model" in text, text


def test_the_artifact_store_addresses_files_by_hash_only(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    (tmp_path / "secret").write_text("root:x:0:0")
    for name in ("../secret", "/etc/passwd", "a" * 63 + "/", "A" * 64, "0" * 64 + "\x00"):
        with pytest.raises(NotFound, match="64 lowercase hex digits"):
            store.path(name)
