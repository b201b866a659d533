"""The SQL databases under the Store: SQLite (one file in the data folder, the default) or
Postgres (TUTOR_DATABASE_URL), behind one small interface.

In: SQL written once, in the subset both speak (`?` placeholders, `INSERT ... ON CONFLICT`,
`RETURNING`), and each module's tables as a `Schema` in SQLite's spelling. Out: a
connection per transaction whose `execute` returns a cursor (`rowcount`, `fetchone`,
`fetchall`), and rows that read by column name or by position. What differs is
translated here, and only here:

                     SQLite                              Postgres
    placeholders     ?                                   %s (a literal % doubled)
    row ids          INTEGER PRIMARY KEY AUTOINCREMENT   BIGINT GENERATED ALWAYS AS IDENTITY
    integers         INTEGER (64-bit)                    BIGINT (its INTEGER is 32-bit)
    floats           REAL (64-bit)                       DOUBLE PRECISION (its REAL is 32-bit)
    columns present  PRAGMA table_info                   information_schema.columns
    writers          one connection, BEGIN IMMEDIATE     a pool; migrations under a lock

Schemas and migrations: a `Schema` is a name and a list of steps, applied in order; how
many of them a database has run is kept in its `schema_version` table, so an open runs
only the steps added since. Steps are only ever appended, and each is idempotent
(`CREATE ... IF NOT EXISTS`; `AddColumn` adds a column only when it is missing), so a
file made before `schema_version` existed is brought up to date by running them all.
On Postgres, several tutor processes may open one database at once: migrations take an
advisory lock, and ids come from the database."""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from server.core.config import check_postgres
from server.core.errors import BadRequest


@dataclass(frozen=True)
class AddColumn:
    """A column added after its table was first released (`definition`: type and
    constraints, SQLite's spelling)."""

    table: str
    column: str
    definition: str


@dataclass(frozen=True)
class Schema:
    """A module's tables: `steps` are SQL scripts (statements separated by semicolons)
    or `AddColumn`s. Append new steps; never edit or reorder released ones."""

    name: str
    steps: tuple[str | AddColumn, ...]


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Cursor: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...


VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


def statements(script: str) -> list[str]:
    """A script's statements (comments dropped: they may hold semicolons)."""
    script = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in script.split(";") if s.strip()]


class Database:
    """What the Store needs of a database."""

    kind: str

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        raise NotImplementedError
        yield

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (no write lock taken)."""
        raise NotImplementedError
        yield

    def describe(self) -> dict[str, Any]:
        """Where the data is, for /healthz (never a password)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        """The names of a table's columns (none: no such table)."""
        with self.read() as db:
            return self._columns(db, table)

    def _columns(self, db: Connection, table: str) -> set[str]:
        raise NotImplementedError

    def _ddl(self, statement: str) -> str:
        return statement

    def _lock_migrations(self, db: Connection) -> None:
        """Only one process migrates at a time (SQLite: BEGIN IMMEDIATE already)."""

    def migrate(self, schema: Schema) -> None:
        """Run the schema's steps this database has not run yet, in one transaction."""
        with self.transaction() as db:
            self._lock_migrations(db)
            db.execute(self._ddl(VERSIONS))
            row = db.execute(
                "SELECT version FROM schema_version WHERE name = ?", (schema.name,)
            ).fetchone()
            done = int(row[0]) if row else 0
            for step in schema.steps[done:]:
                if isinstance(step, AddColumn):
                    if step.column not in self._columns(db, step.table):
                        db.execute(
                            self._ddl(
                                f"ALTER TABLE {step.table} ADD COLUMN {step.column}"
                                f" {step.definition}"
                            )
                        )
                else:
                    for statement in statements(step):
                        db.execute(self._ddl(statement))
            if done < len(schema.steps):
                db.execute(
                    "INSERT INTO schema_version (name, version) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (schema.name, len(schema.steps)),
                )


class SQLiteDatabase(Database):
    """One file in WAL mode, one connection guarded by a lock: SQLite serialises writers
    anyway, and the writes are milliseconds."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
            self._db.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._lock:
            yield self._db

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path.name}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _columns(self, db: Connection, table: str) -> set[str]:
        return {r["name"] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


class Row:
    """A Postgres row that reads like sqlite3.Row: by column name or by position."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values, self._index = values, index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _rows_by_name(cursor: Any) -> Any:
    index = {c.name: i for i, c in enumerate(cursor.description or [])}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=1024)
def postgres_sql(sql: str) -> str:
    """`?` placeholders as psycopg's `%s`; a literal `%` doubled (none in quotes is a
    placeholder)."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        out.append("%s" if ch == "?" and not quoted else "%%" if ch == "%" else ch)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def postgres_ddl(statement: str) -> str:
    statement = re.sub(
        r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b",
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        statement,
    )
    statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)


def storable(params: Sequence[Any]) -> tuple[Any, ...]:
    """The parameters, unless a text among them holds a NUL, which Postgres text cannot
    (psycopg would raise DataError, a 500): then BadRequest. The routes refuse control
    characters before this; this is the backstop for anything that slips past them."""
    values = tuple(params)
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise BadRequest("text with a NUL character cannot be stored")
    return values


class _PostgresConnection:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(postgres_sql(sql), storable(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        rows = [storable(row) for row in params]
        with self._conn.cursor() as cur:
            cur.executemany(postgres_sql(sql), rows)


class PostgresDatabase(Database):
    """A pool of connections (psycopg 3), so threads (and tutor processes) write at once;
    each `transaction` is one BEGIN ... COMMIT on one connection."""

    kind = "postgres"
    MIGRATION_LOCK = 0x7475746F72  # pg_advisory_xact_lock's key ("tutor")

    def __init__(self, url: str, max_connections: int = 8) -> None:
        from psycopg.conninfo import conninfo_to_dict
        from psycopg_pool import ConnectionPool

        check_postgres(url)  # a plain connection's error says why; a pool's would time out
        info = conninfo_to_dict(url)
        port = str(info.get("port") or 5432)
        self._where = {
            "kind": self.kind,
            "host": info.get("host") or "localhost",
            "port": int(port) if port.isdigit() else port,  # (or several, comma-separated)
            "database": info.get("dbname") or info.get("user") or "",
        }
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": _rows_by_name},
            check=ConnectionPool.check_connection,  # a restarted server: reconnect
            name="tutor",
            open=True,
        )
        self._pool.wait(timeout=10)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PostgresConnection(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._pool.connection() as conn:
            yield _PostgresConnection(conn)

    def describe(self) -> dict[str, Any]:
        return dict(self._where)

    def close(self) -> None:
        self._pool.close()

    def _columns(self, db: Connection, table: str) -> set[str]:
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
        return {r[0] for r in rows}

    def _ddl(self, statement: str) -> str:
        return postgres_ddl(statement)

    def _lock_migrations(self, db: Connection) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (self.MIGRATION_LOCK,))


def open_database(location: Path | str) -> Database:
    """A postgresql:// (or postgres://) URL, or the path of an SQLite file."""
    if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(location)
    return SQLiteDatabase(Path(location))
