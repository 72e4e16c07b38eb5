"""`supabase export`: files a Supabase project can push, timestamped after everything there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from beproduct_sync import migrations
from beproduct_sync.errors import MigrationChanged
from beproduct_sync.migrations.export import export
from beproduct_sync.migrations.history import exported_name, exported_text

BUNDLED = migrations.bundled()
NOW = datetime(2027, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_every_migration_is_written_after_now_one_second_apart_with_the_exact_text(
    tmp_path: Path,
) -> None:
    written = export(tmp_path, BUNDLED, NOW)
    assert [w.migration for w in written] == list(BUNDLED)
    assert names(tmp_path) == [
        f"202703040506{8 + i:02d}_{exported_name(m)}.sql" for i, m in enumerate(BUNDLED)
    ]
    for w in written:
        assert w.path.read_bytes() == exported_text(w.migration).encode()
        assert exported_text(w.migration).endswith(w.migration.sql)


def test_the_files_come_after_the_newest_migration_of_the_project(tmp_path: Path) -> None:
    (tmp_path / "20990101000000_future.sql").write_text("SELECT 1;")
    (tmp_path / "001_not_a_timestamp.sql").write_text("SELECT 1;")
    export(tmp_path, BUNDLED[:2], NOW)
    assert names(tmp_path)[2:] == [
        f"20990101000001_{exported_name(BUNDLED[0])}.sql",
        f"20990101000002_{exported_name(BUNDLED[1])}.sql",
    ]


def test_only_migrations_not_exported_yet_are_written(tmp_path: Path) -> None:
    export(tmp_path, BUNDLED[:3], NOW)
    before = names(tmp_path)
    later = datetime(2028, 1, 1, tzinfo=UTC)
    written = export(tmp_path, BUNDLED, later)
    assert [w.migration for w in written] == list(BUNDLED[3:])
    assert names(tmp_path)[:3] == before
    assert export(tmp_path, BUNDLED, later) == []


def test_a_copy_of_the_bundled_file_counts_as_exported(tmp_path: Path) -> None:
    first = BUNDLED[0]
    (tmp_path / f"{first.version}_{first.name}.sql").write_text(first.sql)
    assert [w.migration for w in export(tmp_path, BUNDLED, NOW)] == list(BUNDLED[1:])


def test_white_space_changes_are_not_edits(tmp_path: Path) -> None:
    [written] = export(tmp_path, BUNDLED[:1], NOW)
    written.path.write_text(written.path.read_text().replace("\n", "\r\n") + "\n\n")
    assert export(tmp_path, BUNDLED[:1], NOW) == []


def test_an_edited_export_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    first, *_ = export(tmp_path, BUNDLED[:2], NOW)
    first.path.write_text(first.path.read_text().replace("IF NOT EXISTS", "", 1))
    before = names(tmp_path)
    with pytest.raises(MigrationChanged, match="edited after it was exported"):
        export(tmp_path, BUNDLED, NOW)
    assert names(tmp_path) == before


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    planned = export(tmp_path, BUNDLED, NOW, dry_run=True)
    assert len(planned) == len(BUNDLED)
    assert names(tmp_path) == []
