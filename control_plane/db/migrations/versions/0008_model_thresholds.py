"""model thresholds and canary summaries: the smallest differences an experiment declares,
per model (NULL: the defaults); a finished canary's gates and verdict (NULL: none kept)."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import add_column, drop_column

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    add_column(["models"], sa.Column("thresholds", sa.JSON(), nullable=True))
    add_column(["canaries"], sa.Column("summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    drop_column(["canaries"], "summary")
    drop_column(["models"], "thresholds")
