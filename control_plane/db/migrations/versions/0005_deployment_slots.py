"""deployment slots: sticky routing's slot table; NULL means the fresh table of its weights."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import nullable_column

revision = "0005"
down_revision = "0004"
upgrade, downgrade = nullable_column(["deployments"], "slots", sa.JSON())
