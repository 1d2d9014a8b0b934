"""Schema changes the migrations share: tables with their indexes, columns added later."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

TIME = sa.DateTime(timezone=True)


def text(length: int) -> AutoString:
    return AutoString(length=length)


def column(name: str, kind: Any, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, kind, nullable=nullable)


def create_table(name: str, *parts: Any, indexes: dict[str, bool] | None = None) -> None:
    """A table, with an index on each column named in `indexes` (True: a unique one)."""
    op.create_table(name, *parts)
    with op.batch_alter_table(name) as batch:
        for indexed, unique in (indexes or {}).items():
            batch.create_index(f"ix_{name}_{indexed}", [indexed], unique=unique)


def drop_table(name: str, indexes: Iterable[str] = ()) -> None:
    with op.batch_alter_table(name) as batch:
        for indexed in indexes:
            batch.drop_index(f"ix_{name}_{indexed}")
    op.drop_table(name)


def add_column(tables: Iterable[str], new: sa.Column[Any]) -> None:
    """The same nullable column on each table: existing rows get NULL."""
    for table in tables:
        with op.batch_alter_table(table) as batch:
            batch.add_column(new.copy())


def drop_column(tables: Iterable[str], name: str) -> None:
    for table in tables:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(name)


def nullable_column(
    tables: Iterable[str], name: str, kind: Any
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The upgrade and downgrade of a revision that adds one nullable column to `tables`:
    existing rows get NULL, which each column's reader takes as "not set"."""
    order = list(tables)

    def upgrade() -> None:
        add_column(order, sa.Column(name, kind, nullable=True))

    def downgrade() -> None:
        drop_column(reversed(order), name)

    return upgrade, downgrade
