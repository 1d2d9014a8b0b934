"""deployment scaling: per-model autoscaling settings; NULL keeps the platform's defaults."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import nullable_column

revision = "0003"
down_revision = "0002"
upgrade, downgrade = nullable_column(["deployments"], "scaling", sa.JSON())
