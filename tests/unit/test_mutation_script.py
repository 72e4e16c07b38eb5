"""scripts/mutation.py puts the source back whatever happens: after the tests pass or fail, when
interrupted, and at the next start after a run killed hard (from the copy it keeps)."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation.py"
ORIGINAL = 'def status(version):\n    return "applied" if version > 1 else "stale"\n'
MUTATED = 'def status(version):\n    return "applied" if version >= 1 else "stale"\n'


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, pointed at a package of one file under tmp_path."""
    spec = importlib.util.spec_from_file_location("mutation_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutation_script", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "service.py").write_text(ORIGINAL)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "PACKAGE", tmp_path / "pkg")
    monkeypatch.setattr(module, "BACKUP", tmp_path / ".mutation-backup")
    return module


def fake_python(tmp_path: Path, body: str) -> str:
    """An executable that stands in for `python -m pytest …`: it records the source and the
    backup as it saw them, then runs `body` (a shell command)."""
    path = tmp_path / "fake-python"
    path.write_text(
        "#!/bin/sh\n"
        f'cat "{tmp_path}/pkg/service.py" > "{tmp_path}/seen"\n'
        f'cat "{tmp_path}/.mutation-backup/service.py" > "{tmp_path}/backup-seen"\n'
        f"{body}\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def mutation(runner: ModuleType) -> object:
    return runner.Mutation("replay-is-newer", "service.py", "> 1", ">= 1", ("unit",))


@pytest.mark.parametrize(("exit_code", "status"), [(0, "survived"), (1, "killed"), (4, "error")])
def test_the_source_is_mutated_while_tested_and_restored_after(
    runner: ModuleType, tmp_path: Path, exit_code: int, status: str
) -> None:
    python = fake_python(tmp_path, f"exit {exit_code}")
    result = runner.run_one(mutation(runner), python)
    assert result["status"] == status
    assert (tmp_path / "seen").read_text() == MUTATED
    assert (tmp_path / "backup-seen").read_text() == ORIGINAL
    assert (tmp_path / "pkg" / "service.py").read_text() == ORIGINAL
    assert not (tmp_path / ".mutation-backup").exists()


def test_an_interrupted_run_restores_the_source(runner: ModuleType, tmp_path: Path) -> None:
    # The stand-in interrupts the runner (Ctrl-C) while the mutated source is being tested.
    python = fake_python(tmp_path, f"kill -INT {os.getpid()}; sleep 30")
    with pytest.raises(KeyboardInterrupt):
        runner.run_one(mutation(runner), python)
    assert (tmp_path / "seen").read_text() == MUTATED
    assert (tmp_path / "pkg" / "service.py").read_text() == ORIGINAL
    assert not (tmp_path / ".mutation-backup").exists()


def test_a_run_killed_hard_is_repaired_from_the_backup_at_the_next_start(
    runner: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "pkg" / "service.py").write_text(MUTATED)
    (tmp_path / ".mutation-backup").mkdir()
    (tmp_path / ".mutation-backup" / "service.py").write_text(ORIGINAL)
    assert runner.restore_backups() == ["pkg/service.py"]
    assert (tmp_path / "pkg" / "service.py").read_text() == ORIGINAL
    assert not (tmp_path / ".mutation-backup").exists()
    assert runner.restore_backups() == []
