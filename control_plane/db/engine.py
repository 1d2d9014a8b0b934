"""Engine and session factory, and migrations. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

from control_plane.errors import DatabaseUnavailable
from control_plane.settings import PierSettings

# A server that is down answers at once (connection refused); one that does not answer
# (a dead host, a full backlog) must not hold a request for the OS's minutes-long default.
CONNECT_TIMEOUT_S = 3

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the launcher, the dashboard and the CLI share the file without "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: a connection the server dropped (restart, failover) is replaced before
    # use, so the first request after the database comes back succeeds.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=5,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection: not the request's fault."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def unavailable(error: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"the database is unavailable ({type(error.__cause__ or error).__name__}); "
        "the platform keeps serving predictions, retry shortly"
    )


@contextmanager
def session_scope(settings: PierSettings) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on error."""
    with Session(get_engine(settings.database_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as e:
            try:
                session.rollback()
            except DBAPIError as lost:
                if not is_unavailable(lost):
                    raise
            if is_unavailable(e):
                raise unavailable(e) from e
            raise
        for callback in session.info.pop(_AFTER_COMMIT, []):
            callback()


_AFTER_COMMIT = "pier_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once this unit of work has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def migrate(settings: PierSettings) -> None:
    """Bring the database schema to the newest revision (idempotent)."""
    if settings.database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), "head")
