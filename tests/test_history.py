"""The history store: round trip, schema version, transactions, two writers, bad files, CLI."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from history_helpers import DEVICE, make_record, make_results

from edgebench.bench.judgement.history import HistoryError, append_results, device_key, open_history
from edgebench.bench.judgement.history_schema import HISTORY_SCHEMA_VERSION
from edgebench.cli import main
from edgebench.errors import SchemaError


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_keeps_every_field_and_the_raw_samples(tmp_path):
    res = make_results("run01")
    failed = replace(
        make_record("broken/int8"), status="failed", error="boom", latency_us=None, samples_us=()
    )
    res = replace(res, records=res.records + (failed,))
    path = tmp_path / "h.sqlite"
    append_results(path, [res])
    with open_history(path, create=False) as h:
        (row,) = h.runs()
        assert (row.bench, row.run_id, row.target, row.n_records, row.n_ok) == (
            1,
            "run01",
            "local",
            3,
            2,
        )
        assert row.device_key == device_key(DEVICE)
        assert row.git_commit == "0123456789abcdef"
        assert h.load(row) == res


def test_schema_is_versioned_and_in_wal_mode(tmp_path):
    path = tmp_path / "h.sqlite"
    append_results(path, [make_results("run01")])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == HISTORY_SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_an_empty_file_is_a_new_history(tmp_path):
    path = tmp_path / "h.sqlite"
    path.touch()
    append_results(path, [make_results("run01")])
    with open_history(path) as h:
        assert len(h.runs()) == 1


def test_an_interrupted_run_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "h.sqlite"
    append_results(path, [make_results("run01")])
    calls = []

    def interrupt() -> None:
        calls.append(1)
        if len(calls) == 3:  # mid-run: the second target's first record
            raise KeyboardInterrupt

    run2 = [make_results("run02"), make_results("run02", target="ssh://pi")]
    with open_history(path) as h, pytest.raises(KeyboardInterrupt):
        h.append(run2, on_record=interrupt)
    with open_history(path) as h:
        assert [r.run_id for r in h.runs()] == ["run01"]
        assert h.conn.execute("SELECT count(*) FROM records").fetchone()[0] == 2
        h.append(run2)  # and the store still takes the whole run afterwards
        assert len(h.runs()) == 3


def test_the_same_results_twice_are_refused_but_a_second_bench_of_a_build_lands(tmp_path):
    path = tmp_path / "h.sqlite"
    append_results(path, [make_results("run01")])
    with pytest.raises(HistoryError, match="already in"):
        append_results(path, [make_results("run01")])
    again = make_results("run01", created_at="2025-01-01T03:00:00+00:00", seed=9)
    append_results(path, [again])
    with open_history(path) as h:
        assert [(r.bench, r.run_id) for r in h.runs()] == [(2, "run01"), (1, "run01")]
        assert h.benches(run_id="run01") == [2, 1]


def _writer(path: str, name: str, n: int, barrier) -> None:
    barrier.wait()
    for i in range(n):
        append_results(Path(path), [make_results(f"{name}-{i:02d}", target=f"ssh://{name}")])


def test_two_writers_at_once_both_land(tmp_path):
    path = tmp_path / "h.sqlite"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(path), name, 8, barrier)) for name in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with open_history(path) as h:
        rows = h.runs()
    assert len(rows) == 16
    assert {r.target for r in rows} == {"ssh://a", "ssh://b"}
    assert all(r.n_records == 2 for r in rows)
    assert len({r.bench for r in rows}) == 16  # numbered under the write lock: no duplicates


def test_filters_by_target_variant_and_date(tmp_path):
    path = tmp_path / "h.sqlite"
    append_results(path, [make_results("run01"), make_results("run01", target="ssh://pi")])
    extra = make_results("run03", records=[make_record("only/here")])
    append_results(path, [make_results("run02")])
    append_results(path, [extra])
    with open_history(path) as h:
        assert [r.run_id for r in h.runs()] == ["run03", "run02", "run01", "run01"]
        assert [r.run_id for r in h.runs(target="ssh://pi")] == ["run01"]
        assert [r.run_id for r in h.runs(variant="only/here")] == ["run03"]
        assert [r.run_id for r in h.runs(since="2025-01-02")] == ["run03", "run02"]
        assert [r.run_id for r in h.runs(until="2025-01-02", target="local")] == [
            "run02",
            "run01",
        ]
        assert h.benches() == [3, 2, 1]
        assert h.benches(run_id="run02") == [2]
        (pi,) = h.rows_of(1, "ssh://pi")
        assert h.previous(pi) is None
        (latest,) = h.rows_of(3)
        assert h.previous(latest).run_id == "run02"
        assert [r.run_id for r in h.series(latest, 2)] == ["run02", "run03"]


def test_not_an_sqlite_file_is_one_line_exit_2_and_untouched(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    path.write_text("run,target\nnot a database\n")
    before = sha(path)
    assert main(["history", "--history", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "not an SQLite database" in err and "--history PATH" in err
    assert sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite"]


def test_a_newer_schema_is_refused_and_untouched(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {HISTORY_SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = sha(path)
    with pytest.raises(SchemaError, match="upgrade edgebench"):
        open_history(path)
    assert main(["history", "--history", str(path)]) == 2
    assert "newer than this edgebench" in capsys.readouterr().err
    assert sha(path) == before


def test_history_cli_lists_filters_and_imports(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    folder = tmp_path / "run07"
    folder.mkdir()
    make_results("run07").save(folder / "results-local.json")
    assert main(["history", "--history", str(path), "--add", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "run07" in out and "bench-box" in out and "2/2" in out
    assert main(["history", "--history", str(path), "--target", "ssh://nowhere"]) == 0
    assert "no runs match" in capsys.readouterr().out


def test_history_cli_without_a_history_says_how_to_make_one(tmp_path, capsys):
    assert main(["history", "--history", str(tmp_path / "none.sqlite")]) == 2
    assert "run edgebench bench first" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()


def test_history_help(cli):
    out = cli("history", "--help").out
    for flag in ("--target", "--variant", "--since", "--until", "--history", "--add"):
        assert flag in out


def test_a_history_of_schema_1_is_keyed_by_setup_after_the_upgrade(tmp_path):
    """v1 keyed records by (run, variant); v2 by (run, key). The upgrade keeps every row and
    gives each record the setup of its run's settings."""
    import json
    import sqlite3

    from edgebench.bench.judgement.history import open_history
    from edgebench.bench.judgement.history_schema import _create_v1

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    _create_v1(conn)
    conn.execute("INSERT INTO runs (id, bench, run_id, target, created_at, device_key, "
                 "device_name, device_json, host_json, settings_json, results_schema_version) "
                 "VALUES (1, 1, 'r', 'local', '2025-01-01T00:00:00+00:00', 'k', 'd', '{}', '{}', "
                 "?, 1)", (json.dumps({"threads": 2, "xnnpack": True}),))
    conn.execute("INSERT INTO records (run, position, variant, status, record_json, samples_us) "
                 "VALUES (1, 0, 'pruned/int8', 'ok', ?, '[1.0, 2.0]')",
                 (json.dumps({"variant": "pruned/int8", "model_path": "m", "status": "ok"}),))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()
    with open_history(path) as h:
        res = h.load(1)
        assert h.conn.execute("PRAGMA user_version").fetchone()[0] == HISTORY_SCHEMA_VERSION
        keys = [k for (k,) in h.conn.execute("SELECT key FROM records")]
    (rec,) = res.records
    assert rec.key == keys[0] == "pruned/int8@threads=2,xnnpack=on"
    assert rec.samples_us == (1.0, 2.0) and res.settings.threads == (2,)
