"""revision action: which change made a desired state, so a rollback can undo changes in
order instead of stepping to the last different state; NULL for older revisions."""

from __future__ import annotations

from control_plane.db.ddl import nullable_column, text

revision = "0007"
down_revision = "0006"
upgrade, downgrade = nullable_column(["deployment_revisions"], "action", text(64))
