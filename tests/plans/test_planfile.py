"""The saved plan is trusted for nothing its integrity check does not cover (issue 13 item 3):
every field apply uses is checked, and paths stay inside the repository."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.accounts.loader import LoadResult
from iasync.plans.plan import make_plan
from iasync.plans.planfile import PlanFileError, document_checksum, load_plan, save_plan
from iasync.states import State
from tests.planning import body, loaded, record


def saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A saved plan with a create, an update, an unchanged account, a move and an orphan."""
    load = LoadResult(
        [
            loaded("accounts/a.yaml", body("IA_1", displayName="New name")),
            loaded("accounts/b.yaml", body("IA_2")),
            loaded("accounts/c.yaml", body("IA_3")),
            loaded("accounts/moved/e.yaml", body("IA_5")),
        ]
    )
    state = State(lineage="lineage-1", serial=3)
    for rec in (
        record("LUID_1", body("IA_1"), "accounts/a.yaml", 2),
        record("LUID_3", body("IA_3"), "accounts/c.yaml"),
        record("LUID_4", body("IA_4"), "accounts/d.yaml"),
        record("LUID_5", body("IA_5"), "accounts/e.yaml"),
    ):
        state.record(rec)
    plan = make_plan(load, state, paths=["accounts"])
    path = tmp_path / "tf.plan"
    save_plan(plan, path)
    return path, json.loads(path.read_text(encoding="utf-8"))


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a JSON document that is not itself a container."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path


def altered(value: Any) -> Any:
    """Another value of the same kind (a null becomes text)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return "x"


def set_at(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def get_at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def test_the_saved_plan_loads_back(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    plan = load_plan(path)
    assert plan.counts == doc["counts"] == {"create": 1, "update": 1, "unchanged": 2, "orphaned": 1}
    assert doc["checksum"] == document_checksum(doc)


def test_any_field_edited_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    fields = [leaf for leaf in leaves(doc) if leaf != ("checksum",)]
    assert len(fields) > 80  # bodies, identities, hashes, paths, counts, settings, state
    for field in fields:
        edited = json.loads(json.dumps(doc))
        set_at(edited, field, altered(get_at(doc, field)))
        path.write_text(json.dumps(edited), encoding="utf-8")
        with pytest.raises(PlanFileError):
            load_plan(path)
            pytest.fail(f"an edit of {field} was accepted")


def rewrite(path: Path, doc: dict[str, Any], *, checksum: bool = True) -> None:
    """Write `doc` back, with a checksum made for it (as someone covering their tracks would)."""
    if checksum:
        doc["checksum"] = document_checksum(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    "bad_path",
    ["../../etc/passwd", "/etc/passwd", "accounts/../../x.yaml", "accounts//a.yaml", "./a.yaml"],
)
def test_a_path_outside_the_repository_is_refused_even_with_a_good_checksum(
    tmp_path: Path, bad_path: str
) -> None:
    path, doc = saved(tmp_path)
    change = doc["changes"][0]
    doc["file_hashes"][bad_path] = doc["file_hashes"].pop(change["path"])
    change["path"] = bad_path
    rewrite(path, doc)

    with pytest.raises(PlanFileError, match="is not a path inside the repository"):
        load_plan(path)


def test_a_path_argument_outside_the_repository_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["paths"] = ["../elsewhere"]
    rewrite(path, doc)

    with pytest.raises(PlanFileError, match=r"paths\[0\] '../elsewhere' is not a path inside"):
        load_plan(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (("state", "serial"), "3", "state.serial should be a whole number, not '3'"),
        (("state", "serial"), True, "state.serial should be a whole number, not True"),
        (("state", "serial"), -1, "state.serial is negative"),
        (("counts", "create"), 7, "counts .* are not the changes'"),
        (("settings", "batch_size"), 0, "settings.batch_size 0 is not between 1 and 2000"),
        (("settings", "success_mode"), "Sloppy", "settings.success_mode is 'Sloppy'"),
        (("changes", 0, "version"), "2", r"changes\[0\].version should be a whole number"),
        (("changes", 0, "file_hash"), "sha256:x", r"changes\[0\].file_hash is not a sha256"),
        (("changes", 0, "identity"), [["k"]], r"changes\[0\].identity: each item should be"),
        (("changes", 0, "action"), "delete", r"changes\[0\].action: unknown action 'delete'"),
        (("changes", 1, "lusid_id"), "LUID_9", "a create names no LUSID account yet"),
        (("changes", 0, "lusid_id"), None, "lusid_id is null; an update change names"),
    ],
)
def test_a_field_of_the_wrong_kind_is_named_even_with_a_good_checksum(
    tmp_path: Path, field: tuple[Any, ...], value: Any, message: str
) -> None:
    path, doc = saved(tmp_path)
    assert [change["action"] for change in doc["changes"][:2]] == ["update", "create"]
    set_at(doc, field, value)
    rewrite(path, doc)

    with pytest.raises(PlanFileError, match="the plan file is corrupt.*" + message):
        load_plan(path)


def test_a_change_for_a_file_the_plan_did_not_read_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["changes"][0]["path"] = "accounts/b.yaml"  # another file's path, with a file hash not its
    rewrite(path, doc)

    with pytest.raises(PlanFileError, match=r"changes\[0\].path 'accounts/b.yaml' is not a file"):
        load_plan(path)


def test_an_identity_that_is_not_the_bodys_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["changes"][0]["identity"][0][1] = "IA_999"
    rewrite(path, doc)

    with pytest.raises(PlanFileError, match=r"the identity of accounts/a\.yaml is not its request"):
        load_plan(path)


def test_a_plan_without_a_checksum_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    del doc["checksum"]
    rewrite(path, doc, checksum=False)

    with pytest.raises(PlanFileError, match="does not match its checksum"):
        load_plan(path)
