"""Atomic file writes, on real files: whole content, kept permissions, no leftovers on failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iasync.files import (
    fsync_directory,
    new_temporary,
    write_atomically,
    write_synced,
    write_temporary,
)


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_writes_the_content_and_makes_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "data.json"
    write_atomically(target, b'{"x": 1}\n')
    assert target.read_bytes() == b'{"x": 1}\n'
    assert names_in(target.parent) == ["data.json"]


def test_accepts_a_path_given_as_text(tmp_path: Path) -> None:
    write_atomically(str(tmp_path / "data"), b"text")
    assert (tmp_path / "data").read_bytes() == b"text"


def test_replaces_the_file_whole_rather_than_rewriting_it(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"old content, longer than the new")
    with target.open("rb") as reader_of_the_old:
        write_atomically(target, b"new")
        # A reader that opened the old file still reads all of it: it was replaced, not changed.
        assert reader_of_the_old.read() == b"old content, longer than the new"
    assert target.read_bytes() == b"new"
    assert names_in(tmp_path) == ["data"]


def test_keep_mode_keeps_the_permission_bits_of_the_replaced_file(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_atomically(target, b"new", keep_mode=True)
    assert target.stat().st_mode & 0o7777 == 0o640
    assert target.read_bytes() == b"new"


def test_without_keep_mode_the_file_is_its_owners_only(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_atomically(target, b"new")
    assert target.stat().st_mode & 0o7777 == 0o600


def test_mode_sets_the_permission_bits(tmp_path: Path) -> None:
    target = tmp_path / "data"
    write_atomically(target, b"new", mode=0o644)
    assert target.stat().st_mode & 0o7777 == 0o644


def test_keep_mode_on_a_new_file_falls_back_to_mode(tmp_path: Path) -> None:
    target = tmp_path / "data"
    write_atomically(target, b"new", mode=0o640, keep_mode=True)
    assert target.stat().st_mode & 0o7777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "text is not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert names_in(tmp_path) == ["data"]


def test_a_failed_rename_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    # A directory with something in it cannot be replaced by a file: the rename itself fails.
    target = tmp_path / "data"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError):
        write_atomically(target, b"new")
    assert names_in(tmp_path) == ["data"]
    assert (target / "inside").read_bytes() == b"kept"


def test_a_file_on_the_way_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"a file, not a directory")
    with pytest.raises(OSError):
        write_atomically(tmp_path / "plain" / "data", b"new")
    assert names_in(tmp_path) == ["plain"]


def test_write_temporary_leaves_the_target_alone(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    temporary = write_temporary(target, b"new", mode=0o644)
    assert temporary.parent == tmp_path
    assert temporary.name.startswith(".state.json.") and temporary.name.endswith(".tmp")
    assert temporary.read_bytes() == b"new"
    assert temporary.stat().st_mode & 0o7777 == 0o644
    assert target.read_bytes() == b"old"


def test_write_temporary_removes_its_file_when_writing_fails(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_temporary(tmp_path / "data", 12345)  # type: ignore[arg-type]
    assert names_in(tmp_path) == []


def test_a_temporary_linked_onto_a_taken_name_fails_and_keeps_the_old(tmp_path: Path) -> None:
    # The lock's test-and-set: link() refuses a name that exists.
    lock = tmp_path / "state.lock"
    lock.write_bytes(b"held by another")
    attempt = new_temporary(lock)
    try:
        write_synced(attempt, b"mine")
        with pytest.raises(FileExistsError):
            os.link(attempt, lock)
    finally:
        attempt.unlink(missing_ok=True)
    assert lock.read_bytes() == b"held by another"
    assert names_in(tmp_path) == ["state.lock"]


def test_new_temporary_is_an_empty_hidden_file_beside_the_target(tmp_path: Path) -> None:
    first = new_temporary(tmp_path / "state.lock")
    second = new_temporary(tmp_path / "state.lock")
    assert first != second
    assert first.read_bytes() == b""
    assert first.parent == tmp_path and first.name.startswith(".state.lock.")


def test_write_synced_writes_and_sets_the_mode(tmp_path: Path) -> None:
    path = new_temporary(tmp_path / "x")
    write_synced(path, b"content", mode=0o640)
    assert path.read_bytes() == b"content"
    assert path.stat().st_mode & 0o7777 == 0o640


def test_fsync_directory_of_a_missing_directory_does_nothing(tmp_path: Path) -> None:
    fsync_directory(tmp_path / "missing")  # durability is best effort; never an error
    fsync_directory(tmp_path)
    assert names_in(tmp_path) == []


def test_imports_only_the_standard_library() -> None:
    # The emulator writes its data file with it and must not pull in pydantic or the model.
    script = (
        "import sys; before = set(sys.modules); import iasync.files; "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['iasync', 'iasync.files']"
