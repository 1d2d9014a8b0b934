"""Reflex configuration of the control plane.

Ports and the allowed browser origins come from PierSettings (`PIER_*`), so the
dashboard, the API and the websocket all agree on one origin.
"""

import reflex as rx

from control_plane.settings import PierSettings


def _own_origins(settings: PierSettings) -> list[str]:
    """The origins a browser may load the dashboard from: the public URL and loopback."""
    origins = [
        settings.public_url.rstrip("/"),
        f"http://127.0.0.1:{settings.port}",
        f"http://localhost:{settings.port}",
    ]
    return list(dict.fromkeys(origins))


_settings = PierSettings()

config = rx.Config(
    app_name="control_plane",
    telemetry_enabled=False,
    # Prod mode serves the UI and the backend on this one port.
    frontend_port=_settings.port,
    backend_port=_settings.port,
    backend_host=_settings.host,
    # Not `*`: the websocket and the API accept only the control plane's own origin.
    cors_allowed_origins=_own_origins(_settings),
    show_built_with_reflex=False,
    # The pages use Radix components; naming the plugin is what Reflex 0.10 asks for.
    plugins=[rx.plugins.RadixThemesPlugin()],
    # No sitemap for a dashboard; naming it here also silences the default-plugin warning.
    disable_plugins=[rx.plugins.SitemapPlugin],
)
