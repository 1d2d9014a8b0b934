"""deployment shadow: versions that receive a mirrored share of a model's traffic."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import nullable_column

revision = "0004"
down_revision = "0003"
upgrade, downgrade = nullable_column(["deployments", "deployment_revisions"], "shadow", sa.JSON())
