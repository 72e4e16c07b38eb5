"""Which migrations count as applied, by our history or Supabase's (no database)."""

from __future__ import annotations

import pytest

from beproduct_sync import migrations
from beproduct_sync.errors import MigrationChanged
from beproduct_sync.migrations.history import (
    Histories,
    Pushed,
    Recorded,
    content_key,
    exported_name,
    exported_text,
    plan,
)
from tests.helpers.supabase import split_statements

BUNDLED = migrations.bundled()
FIRST, SECOND = BUNDLED[0], BUNDLED[1]


def recorded(m: migrations.Migration, **changes: str | None) -> Recorded:
    row = Recorded(m.version, m.name, m.checksum, content_key(m.sql))
    return Recorded(**{**row.__dict__, **changes})


def pushed(m: migrations.Migration, text: str, version: str = "20270101000000") -> Pushed:
    """What `supabase db push` records for a file holding `text`."""
    return Pushed(version, exported_name(m), split_statements(text))


@pytest.mark.parametrize("m", BUNDLED, ids=lambda m: m.name)
def test_a_file_and_what_the_cli_records_for_it_have_the_same_content_key(
    m: migrations.Migration,
) -> None:
    assert pushed(m, m.sql).content_key == content_key(m.sql)
    assert pushed(m, exported_text(m)).content_key == content_key(exported_text(m))
    assert content_key(exported_text(m)) != content_key(m.sql)  # the header counts


def test_nothing_recorded_anywhere_means_every_migration_runs_in_order() -> None:
    found = plan(BUNDLED, Histories())
    assert found.to_run == list(BUNDLED) and found.notes == []


def test_migrations_in_our_history_with_their_checksum_are_done() -> None:
    found = plan(BUNDLED, Histories(ours={m.version: recorded(m) for m in BUNDLED}))
    assert found.steps == [] and found.notes == []


def test_a_different_checksum_with_the_same_content_is_accepted_with_a_note() -> None:
    ours = {m.version: recorded(m) for m in BUNDLED}
    ours[FIRST.version] = recorded(FIRST, checksum="0" * 64)
    found = plan(BUNDLED, Histories(ours=ours))
    assert found.steps == []
    assert found.notes == [
        f"migration {FIRST.version}_{FIRST.name}: applied text differs only in white space"
    ]


@pytest.mark.parametrize("key", [None, "0" * 64], ids=["no content key", "other content"])
def test_a_different_checksum_and_content_is_an_error_naming_the_migration(key: str | None) -> None:
    ours = {m.version: recorded(m) for m in BUNDLED}
    ours[SECOND.version] = recorded(SECOND, checksum="0" * 64, content_key=key)
    with pytest.raises(MigrationChanged, match=f"{SECOND.version}_{SECOND.name}.*never edited"):
        plan(BUNDLED, Histories(ours=ours))


@pytest.mark.parametrize("exported", [True, False], ids=["exported file", "bundled file"])
def test_a_migration_in_supabases_history_by_content_is_recorded_not_run(exported: bool) -> None:
    text = exported_text(FIRST) if exported else FIRST.sql
    found = plan(BUNDLED, Histories(theirs=[pushed(FIRST, text)]))
    assert [(s.migration, s.run) for s in found.steps[:2]] == [(FIRST, False), (SECOND, True)]
    assert found.to_run == list(BUNDLED[1:])


def test_the_exported_name_with_other_content_is_an_error_saying_what_to_do() -> None:
    edited = pushed(FIRST, exported_text(FIRST) + "\nCREATE TABLE x (id int);", "20270101000007")
    with pytest.raises(MigrationChanged) as caught:
        plan(BUNDLED, Histories(theirs=[edited]))
    message = str(caught.value)
    assert f"20270101000007_{exported_name(FIRST)}.sql was edited after it was exported" in message
    assert "supabase migration repair --status reverted 20270101000007" in message
    assert "\n" not in message


def test_the_bundled_file_pushed_under_its_own_name_with_other_content_is_an_error() -> None:
    # As pushed from a copy of the package's migrations folder, then edited.
    edited = Pushed(FIRST.version, FIRST.name, ["CREATE TABLE x (id int)"])
    with pytest.raises(MigrationChanged):
        plan(BUNDLED, Histories(theirs=[edited]))


def test_other_migrations_of_the_project_do_not_matter() -> None:
    theirs = [Pushed("20250101000000", "notes", ["CREATE TABLE public.notes (id int)"])]
    assert plan(BUNDLED, Histories(theirs=theirs)).to_run == list(BUNDLED)
