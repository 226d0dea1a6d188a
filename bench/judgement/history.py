"""The history store: every bench run, kept in one SQLite file so later runs can be compared.

One row per run and target in ``runs`` (keyed by time, git commit, pipeline-config hash, target
and device identity), one row per (run, target, record key) in ``records`` with the whole record
and its raw latency samples; the key is the variant plus how it was measured (threads, XNNPACK,
delegate, CPU pin: :func:`~edgebench.records.record_key`). The schema version lives in
``PRAGMA user_version`` and is migrated on open by small ``upgrade_from_N`` steps
(:mod:`~edgebench.bench.judgement.history_schema`).

Writing is one transaction per run: a run that is interrupted leaves the store as it was.
The file is in WAL mode with a busy timeout, so two jobs (or two targets) appending at once
both land.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgebench.bench.judgement.history_schema import HISTORY_SCHEMA_VERSION, migrate
from edgebench.bench.judgement.model_store import ModelStore, StoreSize, store_folder
from edgebench.closing import Closing
from edgebench.errors import EdgebenchError, SchemaError
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    Manifest,
    Record,
    Results,
    from_dict,
    to_dict,
)

HISTORY_FILENAME = "history.sqlite"
BUSY_TIMEOUT_MS = 60_000
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: a stored file no run uses is removed only once it is this old: another job may have copied
#: it in and not yet committed its run
ORPHAN_AGE_S = 600


class HistoryError(EdgebenchError):
    """A history file that cannot be read or written, or a run that is not in it."""


def default_history_path(out: Path) -> Path:
    """Where the history lives when no ``--history`` is given: beside the runs, in ``out/``."""
    return Path(out) / HISTORY_FILENAME


# --------------------------------------------------------------------------- identity


def device_identity(device: DeviceInfo) -> dict[str, object]:
    """What makes two measurements comparable: the same machine, not its momentary state.

    The runtime version is not part of it (an upgrade is a change worth comparing across);
    compare prints it when it differs. An emulated CPU is another device than the real one it
    imitates (the key of a real device is what it always was).
    """
    identity: dict[str, object] = {
        "hostname": device.hostname,
        "machine": device.machine,
        "cpu": device.cpu,
        "cores": device.cores,
    }
    if device.emulated:
        identity["emulated"] = True
    return identity


def device_key(device: DeviceInfo) -> str:
    """A short stable id of :func:`device_identity`."""
    blob = json.dumps(device_identity(device), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def describe_device(device: DeviceInfo) -> str:
    """One readable line naming a device, e.g. ``pi4 (aarch64, Cortex-A72, 4 cores)``."""
    bits = [b for b in (device.machine, device.cpu) if b]
    if device.cores:
        bits.append(f"{device.cores} cores")
    return f"{device.hostname or '?'} ({', '.join(bits)})" if bits else (device.hostname or "?")


def config_sha256_of(results: Results) -> str | None:
    """The pipeline-config hash of the manifest a run measured, when it still exists."""
    if not results.manifest:
        return None
    try:
        return Manifest.load(Path(results.manifest)).config_sha256
    except EdgebenchError:
        return None


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class RunRow:
    """One run on one target, as listed by ``edgebench history``."""

    id: int
    bench: int  # the edgebench bench that wrote it: one number for all its targets
    run_id: str
    target: str
    created_at: str
    git_commit: str | None
    config_sha256: str | None
    device_key: str
    device_name: str
    n_records: int
    n_ok: int
    edgebench_version: str | None = None


_RUN_COLUMNS = (
    "r.id, r.bench, r.run_id, r.target, r.created_at, r.git_commit, r.config_sha256, r.device_key, "
    "r.device_name, (SELECT count(*) FROM records x WHERE x.run = r.id), "
    "(SELECT count(*) FROM records x WHERE x.run = r.id AND x.status = 'ok'), "
    "r.edgebench_version"
)


def _where(filters: Sequence[tuple[str, object]]) -> tuple[str, list[object]]:
    """`` WHERE`` and the conditions whose value is not None, joined with AND (each ``?`` of a
    condition takes its value), with the query's arguments; nothing when no filter is set."""
    used = [(condition, value) for condition, value in filters if value is not None]
    args = [value for condition, value in used for _ in range(condition.count("?"))]
    return (" WHERE " + " AND ".join(c for c, _ in used) if used else ""), args


class History(Closing):
    """An open history file. Use :func:`open_history`; close it (or use ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.store = ModelStore(store_folder(path))

    def close(self) -> None:
        self.conn.close()

    # ----------------------------------------------------------------- writing

    def append(
        self, results: Sequence[Results], on_record: Callable[[], None] | None = None
    ) -> None:
        """Add one run (one Results per target) in a single transaction.

        ``on_record`` is called after each row is inserted; tests use it to interrupt a run.
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")  # the write lock: bench numbers stay unique
            bench = self.conn.execute("SELECT coalesce(max(bench), 0) + 1 FROM runs").fetchone()[0]
            for res in results:
                self._insert(res, bench, on_record)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.gc()

    def _insert(self, res: Results, bench: int, on_record: Callable[[], None] | None) -> None:
        exists = self.conn.execute(
            "SELECT 1 FROM runs WHERE run_id = ? AND target = ? AND created_at = ?",
            (res.run_id, res.target, res.created_at),
        ).fetchone()
        if exists:
            raise HistoryError(
                f"the results of run {res.run_id} on {res.target} from {res.created_at} are "
                f"already in {self.path}; nothing to add"
            )
        cur = self.conn.execute(
            "INSERT INTO runs (bench, run_id, target, created_at, git_commit, config_sha256, "
            "manifest, device_key, device_name, device_json, host_json, settings_json, "
            "results_schema_version, edgebench_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                bench,
                res.run_id,
                res.target,
                res.created_at,
                res.git_commit,
                config_sha256_of(res),
                res.manifest,
                device_key(res.device),
                describe_device(res.device),
                json.dumps(to_dict(res.device)),
                json.dumps(to_dict(res.host)),
                json.dumps(to_dict(res.settings)),
                res.schema_version,
                res.edgebench_version,
            ),
        )
        run = cur.lastrowid
        assert run is not None
        for pos, rec in enumerate(res.records):
            data = to_dict(rec)
            samples = data.pop("samples_us")
            lat, rss = rec.latency_us, rec.rss_mb
            self.conn.execute(
                "INSERT INTO records (run, position, key, variant, status, zip_bytes, accuracy, "
                "p50_us, p90_us, peak_rss_mb, record_json, samples_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run,
                    pos,
                    rec.key,
                    rec.variant,
                    rec.status,
                    rec.zip_bytes,
                    rec.accuracy,
                    lat.p50 if lat else None,
                    lat.p90 if lat else None,
                    rss.peak if rss else None,
                    json.dumps(data, allow_nan=False),
                    json.dumps(samples),
                ),
            )
            if on_record is not None:
                on_record()
        self._keep_models(run, res)

    def _keep_models(self, run: int, res: Results) -> None:
        """Copy every model file the run measured into the store (once per content)."""
        for rec in res.records:
            path = Path(rec.model_path) if rec.model_path else None
            if path is None or not path.is_file():
                continue
            sha, size = self.store.add(path)
            self.conn.execute("INSERT OR REPLACE INTO model_files (run, key, sha256, bytes) "
                              "VALUES (?, ?, ?, ?)", (run, rec.key, sha, size))

    # ----------------------------------------------------------------- the model store

    def model_files(self, row: RunRow) -> dict[str, Path]:
        """Each variant of a run with its stored model file, for measuring it again. Raises
        HistoryError naming the run when its files are gone or were never kept."""
        rows = self.conn.execute(
            "SELECT x.variant, m.sha256 FROM model_files m JOIN records x ON x.run = m.run "
            "AND x.key = m.key WHERE m.run = ? ORDER BY x.position", (row.id,)).fetchall()
        if not rows:
            raise HistoryError(
                f"run {row.run_id} (#{row.bench}) on {row.target} has no stored model files "
                "(benched before the model store, or its files were not found); it cannot be "
                "re-measured, only compared from its records (drop --rebench)")
        gone = [key for key, sha in rows if not self.store.has(sha)]
        if gone:
            raise HistoryError(
                f"the model files of run {row.run_id} (#{row.bench}) on {row.target} were "
                f"collected by edgebench history gc ({len(gone)} of {len(rows)}); it can no "
                "longer be re-measured, only compared from its records (drop --rebench)")
        return {key: self.store.path_of(sha) for key, sha in rows}

    def gc(self, bound_mb: float | None = None) -> tuple[int, int]:
        """Trim the model store to its bound: files no run uses first, then those only the
        oldest runs use; the newest run's files always stay. (files removed, bytes freed)"""
        if bound_mb is not None:
            self.store.bound_bytes = int(bound_mb * 1e6)
        used = self.conn.execute(
            "SELECT m.sha256, max(r.created_at) FROM model_files m JOIN runs r ON r.id = m.run "
            "GROUP BY m.sha256 ORDER BY 2, 1").fetchall()
        newest = max((when for _, when in used), default=None)
        keep = {sha for sha, _ in used}
        removed = freed = 0
        folder = self.store.folder
        settled = time.time() - ORPHAN_AGE_S  # younger: another job's run, not committed yet
        for path in sorted(folder.glob("*.tflite")) if folder.is_dir() else []:
            if path.stem not in keep and path.stat().st_mtime < settled:
                freed += self.store.remove(path.stem)
                removed += 1
        for sha, when in used:
            if self.store.size().bytes <= self.store.bound_bytes or when == newest:
                break
            if self.store.has(sha):
                freed += self.store.remove(sha)
                removed += 1
        return removed, freed

    def store_size(self) -> StoreSize:
        return self.store.size()

    # ----------------------------------------------------------------- reading

    def runs(
        self,
        target: str | None = None,
        variant: str | None = None,
        since: str | None = None,
        until: str | None = None,
        device: str | None = None,
        limit: int | None = None,
    ) -> list[RunRow]:
        """Runs, newest first, filtered by target, variant (present in the run) and date.

        ``since``/``until`` compare against ``created_at`` as text: ``2025-01-31`` or a full
        ISO timestamp; ``until`` with a bare date includes that whole day.
        """
        if until is not None and len(until) == 10:
            until += "\uffff"  # a bare date: up to the end of that day
        where, args = _where([
            ("r.target = ?", target),
            ("r.device_key = ?", device),
            # a variant name, or a record key with its setup
            ("EXISTS (SELECT 1 FROM records x WHERE x.run = r.id "
             "AND (x.variant = ? OR x.key = ?))", variant),
            ("r.created_at >= ?", since),
            ("r.created_at < ?", until),
        ])
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r{where} ORDER BY r.created_at DESC, r.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [RunRow(*row) for row in self.conn.execute(sql, args)]

    def benches(self, target: str | None = None, run_id: str | None = None) -> list[int]:
        """Bench numbers (one per ``edgebench bench``), newest first."""
        where, args = _where([("target = ?", target), ("run_id = ?", run_id)])
        sql = f"SELECT DISTINCT bench FROM runs{where} ORDER BY bench DESC"
        return [row[0] for row in self.conn.execute(sql, args)]

    def record(self, row: RunRow, variant: str) -> Record | None:
        """One record in one run (without its raw samples), or None: the one whose key is
        ``variant`` (``int8@threads=4,xnnpack=on``), else the first measured of that variant
        (a matrix measures a variant once per cell)."""
        found = self.conn.execute(
            "SELECT record_json FROM records WHERE run = ? AND (key = ? OR variant = ?) "
            "ORDER BY key = ? DESC, position LIMIT 1",
            (row.id, variant, variant, variant),
        ).fetchone()
        return None if found is None else from_dict(Record, json.loads(found[0]))

    def rows_of(self, bench: int, target: str | None = None) -> list[RunRow]:
        """The rows (one per target) one ``edgebench bench`` wrote."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.bench = ?"
        args: list[object] = [bench]
        if target is not None:
            sql += " AND r.target = ?"
            args.append(target)
        return [RunRow(*row) for row in self.conn.execute(sql + " ORDER BY r.target", args)]

    def find(self, results: Results) -> RunRow | None:
        """The row holding exactly these results (same run, target and start time), if any."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_id = ? AND r.target = ? "
        sql += "AND r.created_at = ?"
        found = self.conn.execute(
            sql, (results.run_id, results.target, results.created_at)
        ).fetchone()
        return RunRow(*found) if found else None

    def previous(self, row: RunRow) -> RunRow | None:
        """The run before ``row`` on the same target and device, if any."""
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.target = ? AND r.device_key = ? "
            "AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?)) "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT 1"
        )
        args = (row.target, row.device_key, row.created_at, row.created_at, row.id)
        found = self.conn.execute(sql, args).fetchone()
        return RunRow(*found) if found else None

    def load(self, row: RunRow | int) -> Results:
        """Rebuild the full :class:`Results` of one run row, raw samples included."""
        rid = row.id if isinstance(row, RunRow) else int(row)
        head = self.conn.execute(
            "SELECT run_id, created_at, target, manifest, host_json, device_json, settings_json, "
            "git_commit, edgebench_version FROM runs WHERE id = ?",
            (rid,),
        ).fetchone()
        if head is None:
            raise HistoryError(f"no run with id {rid} in {self.path}; see edgebench history")
        run_id, created_at, target, manifest, host, device, settings, commit, version = head
        records = []
        for rec_json, samples in self.conn.execute(
            "SELECT record_json, samples_us FROM records WHERE run = ? ORDER BY position", (rid,)
        ):
            data = json.loads(rec_json)
            data["samples_us"] = json.loads(samples)
            records.append(from_dict(Record, data))
        return Results(
            run_id=run_id,
            created_at=created_at,
            target=target,
            manifest=manifest,
            host=from_dict(DeviceInfo, json.loads(host)),
            device=from_dict(DeviceInfo, json.loads(device)),
            settings=from_dict(BenchSettings, json.loads(settings)),
            git_commit=commit,
            records=tuple(records),
            edgebench_version=version,
        )

    def repeated_records(
        self, target: str, device_key: str, limit: int = 50, exclude: Sequence[int] = ()
    ) -> list[tuple[str, list[float]]]:
        """(model file identity, per-process medians) of every repeated record (``--repeats``)
        of the last ``limit`` runs of ``target`` on this device, leaving out the run rows in
        ``exclude``: what its process-to-process spread and bench-to-bench drift are learnt
        from. The identity is the record key (variant and setup) with its file and zipped size."""
        sql = (
            "SELECT x.run, x.key, x.record_json FROM records x WHERE x.status = 'ok' AND x.run IN ("
            "SELECT r.id FROM runs r WHERE r.target = ? AND r.device_key = ? "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT ?)"
        )
        found = []
        for run, key, rec_json in self.conn.execute(sql, (target, device_key, int(limit))):
            if run in exclude:
                continue
            data = json.loads(rec_json)
            medians = (data.get("extra") or {}).get("process_p50_us") or []
            if len(medians) > 1:
                identity = f"{key}|{data.get('file_bytes')}|{data.get('zip_bytes')}"
                found.append((identity, [float(m) for m in medians]))
        return found

    def series(self, row: RunRow, n: int) -> list[Results]:
        """The last ``n`` runs up to ``row`` on its target and device; oldest first."""
        sql = (
            "SELECT r.id FROM runs r WHERE r.target = ? AND r.device_key = ? "
            "AND (r.created_at < ? OR (r.created_at = ? AND r.id <= ?)) "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT ?"
        )
        args = (row.target, row.device_key, row.created_at, row.created_at, row.id, n)
        ids = [r[0] for r in self.conn.execute(sql, args)]
        return [self.load(i) for i in reversed(ids)]


# --------------------------------------------------------------------------- opening


def open_history(path: Path, create: bool = True) -> History:
    """Open (and migrate) the history at ``path``; with ``create=False`` a missing file is an error.

    A file that is not SQLite, or that a newer edgebench wrote, is refused before anything in it
    is touched.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise HistoryError(
                f"no history at {path}; run edgebench bench first (it appends to the history) "
                "or pass --history PATH"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path.is_dir():
        raise HistoryError(f"{path} is a folder; pass --history PATH to a file")
    else:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise HistoryError(
                f"{path} is not an SQLite database; pass --history PATH to a new file, or move "
                "that file away"
            )
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open history {path}: {exc}; check the path") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > HISTORY_SCHEMA_VERSION:
            raise SchemaError(
                f"{path} has history schema version {version}, newer than this edgebench "
                f"understands ({HISTORY_SCHEMA_VERSION}); upgrade edgebench or pass --history "
                "PATH to another file"
            )
        conn.execute("PRAGMA foreign_keys = ON")
        _use_wal(conn)
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise HistoryError(
            f"{path} is not a usable SQLite database ({exc}); pass --history PATH to a new file"
        ) from None
    except BaseException:
        conn.close()
        raise
    return History(conn, path)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: SQLite answers "locked" at once, without the busy handler,
    when two processes create the same new history file together."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def append_results(path: Path, results: Iterable[Results]) -> None:
    """Append one run (all its targets) to the history at ``path``, creating it if needed."""
    results = list(results)
    if not results:
        return
    with open_history(path) as h:
        h.append(results)
