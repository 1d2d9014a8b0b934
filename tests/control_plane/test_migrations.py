"""The migrations build exactly the schema the models describe, and go down cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from control_plane.db import tables as models  # noqa: F401  (registers the tables)
from control_plane.db.engine import alembic_config, get_engine, migrate
from control_plane.settings import PierSettings


def test_migrations_match_the_models_and_downgrade(db_url: str) -> None:
    migrate(PierSettings(database_url=db_url))
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
        assert "canaries" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    get_engine(db_url).dispose()
    command.downgrade(alembic_config(db_url), "base")
    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate(PierSettings(database_url=db_url))  # and back up, for the module's other tests
