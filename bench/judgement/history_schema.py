"""The history file's schema: the tables as version 1 made them, and the small
``upgrade_from_N`` steps that bring an older file up to date, one transaction each. The version
lives in ``PRAGMA user_version``.

Every step is frozen once released: a change to the schema is a new step, never an edit of an
old one (a file made by that release must still upgrade the way it did).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from edgebench.errors import SchemaError
from edgebench.records import Record, from_dict, record_key, setup_v1, upgrade_results_from_1

HISTORY_SCHEMA_VERSION = 4

#: The measured columns of a record row, the same in the records table of version 1 and of
#: version 2 (which keys rows by record key instead of variant). Frozen with both.
_MEASURED_V1 = """\
            variant      TEXT NOT NULL,
            status       TEXT NOT NULL,
            zip_bytes    INTEGER,
            accuracy     REAL,
            p50_us       REAL,
            p90_us       REAL,
            peak_rss_mb  REAL,"""


def _create_v1(conn: sqlite3.Connection) -> None:
    """Version 1: one row per run and target, one per (run, variant) record."""
    _execute_script(
        conn,
        f"""
        CREATE TABLE runs (
            id            INTEGER PRIMARY KEY,
            bench         INTEGER NOT NULL,  -- one per edgebench bench (all its targets)
            run_id        TEXT NOT NULL,     -- the run folder name (a build benched twice: twice)
            target        TEXT NOT NULL,     -- the target address, e.g. local, ssh://pi
            created_at    TEXT NOT NULL,     -- ISO 8601 UTC, when the run started
            git_commit    TEXT,
            config_sha256 TEXT,              -- hash of the pipeline config that built the models
            manifest      TEXT,
            device_key    TEXT NOT NULL,     -- sha256 of device_identity(), 12 hex digits
            device_name   TEXT NOT NULL,     -- describe_device(), for people
            device_json   TEXT NOT NULL,
            host_json     TEXT NOT NULL,
            settings_json TEXT NOT NULL,
            results_schema_version INTEGER NOT NULL,
            recorded_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            UNIQUE (run_id, target, created_at)
        );
        CREATE INDEX runs_by_target_device ON runs (target, device_key, created_at);
        CREATE INDEX runs_by_bench ON runs (bench);
        CREATE TABLE records (
            run          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            position     INTEGER NOT NULL,   -- order in which the models ran
{_MEASURED_V1}
            record_json  TEXT NOT NULL,      -- every Record field except the samples
            samples_us   TEXT NOT NULL,      -- JSON array of raw latency samples, µs
            PRIMARY KEY (run, variant)
        );
        CREATE INDEX records_by_variant ON records (variant);
        """,
    )


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one: ``executescript`` would commit the open transaction."""
    lines = [line.split("--")[0] for line in script.splitlines()]
    for stmt in "\n".join(lines).split(";"):
        if stmt.strip():
            conn.execute(stmt)


def upgrade_from_1(conn: sqlite3.Connection) -> None:
    """v1 -> v2: records are keyed by (run, key) instead of (run, variant), so each cell of a
    threads x XNNPACK matrix is its own row; old rows get the setup of their run's settings."""
    _execute_script(
        conn,
        f"""
        CREATE TABLE records_v2 (
            run          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            position     INTEGER NOT NULL,
            key          TEXT NOT NULL,      -- record_key(): variant [threads, XNNPACK, ...]
{_MEASURED_V1}
            record_json  TEXT NOT NULL,
            samples_us   TEXT NOT NULL,
            PRIMARY KEY (run, key)
        );
        """,
    )
    settings_of = {}
    for run, settings_json in conn.execute("SELECT id, settings_json FROM runs").fetchall():
        settings = upgrade_results_from_1({"settings": json.loads(settings_json)})["settings"]
        settings_of[run] = settings
        conn.execute("UPDATE runs SET settings_json = ? WHERE id = ?",
                     (json.dumps(settings), run))
    rows = conn.execute(
        "SELECT run, position, variant, status, zip_bytes, accuracy, p50_us, p90_us, "
        "peak_rss_mb, record_json, samples_us FROM records"
    ).fetchall()
    for run, pos, variant, status, zb, acc, p50, p90, rss, rec_json, samples in rows:
        data = setup_v1(json.loads(rec_json), settings_of[run])
        key = record_key(from_dict(Record, {**data, "samples_us": []}))
        conn.execute(
            "INSERT INTO records_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run, pos, key, variant, status, zb, acc, p50, p90, rss, json.dumps(data), samples),
        )
    _execute_script(
        conn,
        """
        DROP TABLE records;
        ALTER TABLE records_v2 RENAME TO records;
        CREATE INDEX records_by_variant ON records (variant);
        """,
    )


def upgrade_from_2(conn: sqlite3.Connection) -> None:
    """v2 -> v3: the edgebench release that measured each run, beside ``git_commit`` (which is
    the user's commit from now on; older rows keep what they had)."""
    conn.execute("ALTER TABLE runs ADD COLUMN edgebench_version TEXT")


def upgrade_from_3(conn: sqlite3.Connection) -> None:
    """v3 -> v4: which stored model file (by SHA-256, in the model store beside the history)
    each record measured, so that a run can be measured again (older runs have none)."""
    _execute_script(conn, """
        CREATE TABLE model_files (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            PRIMARY KEY (run, key)
        );
        CREATE INDEX model_files_by_sha ON model_files (sha256);
    """)


# {from_version: step}; each step brings the schema to the next version inside one transaction.
_UPGRADES: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _create_v1,
    1: upgrade_from_1,
    2: upgrade_from_2,
    3: upgrade_from_3,
}


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to date, one step per transaction (re-checked under the write lock)."""
    while True:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= HISTORY_SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < HISTORY_SCHEMA_VERSION:
                if version not in _UPGRADES:
                    raise SchemaError(f"{path}: no upgrade from history schema version {version}")
                _UPGRADES[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
