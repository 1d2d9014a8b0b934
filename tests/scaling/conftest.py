"""The control-plane fixtures (a migrated SQLite and PostgreSQL database, the real API over
HTTP, small TorchScript artifacts), shared with tests/control_plane."""

from tests.control_plane.conftest import api, db_url, models_dir

__all__ = ["api", "db_url", "models_dir"]
