"""Real nginx (Debian's nginx-light) as a reverse proxy in front of a test server, as an
Ingress or a port-forward puts one: its own port, its own prefix, no daemon."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.servers import free_port, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@contextmanager
def nginx(upstream: str, work: Path, directives: str = "", probe: str = "/") -> Iterator[str]:
    """nginx on a free port proxying everything to `upstream`, websockets included, with
    `directives` added to its location; yields its URL once `probe` answers through it."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    temp = " ".join(f"{kind}_temp_path {work / kind};" for kind in TEMP_PATHS)
    conf = work / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; pid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'};\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; {temp}\n"
        "  map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        f"    location / {{ proxy_pass {upstream}; proxy_http_version 1.1;\n"
        "      proxy_set_header Upgrade $http_upgrade;\n"
        "      proxy_set_header Connection $connection_upgrade;\n"
        "      proxy_set_header Host $http_host;\n"
        f"      {directives} }} }} }}\n"
    )
    process = subprocess.Popen([NGINX, "-p", str(work), "-c", str(conf)])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + probe), timeout=15)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False
