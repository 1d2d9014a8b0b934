"""version batching: how replicas gather a version's requests; NULL keeps the replicas' own."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import nullable_column

revision = "0006"
down_revision = "0005"
upgrade, downgrade = nullable_column(["model_versions"], "batching", sa.JSON())
