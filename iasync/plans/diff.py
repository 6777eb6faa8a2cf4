"""How two canonical bodies of one account differ, attribute by attribute, in readable paths
(`properties["K"].value`): one DeepDiff over a view of the bodies in which keyed lists are
matched by key, not position, and property values lose the API's wrapping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from iasync.accounts.format import FIELD_ORDER, KEYED_FIELDS

DifferenceAction = Literal["add", "remove", "change"]


@dataclass(frozen=True)
class Difference:
    """One changed attribute of an update, in a readable path (`properties["K"].value`)."""

    path: str
    action: DifferenceAction
    before: Any = None
    after: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }


# Fields whose members are named by the user (property keys, holder keys): shown as ["..."].

_DIFF_KINDS: dict[str, DifferenceAction] = {
    "dictionary_item_added": "add",
    "iterable_item_added": "add",
    "dictionary_item_removed": "remove",
    "iterable_item_removed": "remove",
    "values_changed": "change",
    "type_changes": "change",
}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """The attributes that differ between two canonical bodies, in readable paths."""
    return differences_of([(before, after)])[0]


def differences_of(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
) -> list[list[Difference]]:
    """For each (before, after) pair of canonical bodies, the attributes that differ.

    Both bodies are first put in a diff view in which keyed lists (holders, portfolios) are
    dicts by `key`, so items are matched by key and not by position, and property values lose
    the API's wrapping (`{"labelValue": "x"}` is just `"x"`). All pairs go through one DeepDiff
    (each pair under its index): DeepDiff's set-up costs about a millisecond per call, which
    thousands of updates would otherwise pay one by one.
    """
    if not pairs:
        return []
    from deepdiff import DeepDiff

    # String keys: DeepDiff checks each path it passes, and a non-string key costs it an
    # ast.literal_eval every time.
    old: dict[str, dict[str, Any]] = {}
    new: dict[str, dict[str, Any]] = {}
    for index, (before, after) in enumerate(pairs):
        old[str(index)], new[str(index)] = _without_equal_members(
            diff_view(before), diff_view(after)
        )
    found: list[dict[str, Difference]] = [{} for _ in pairs]
    # threshold_to_diff_deeper=0: never report a whole dict as replaced because few of its keys
    # are shared (the pruned views share none); every member is named on its own.
    tree = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    for kind, levels in tree.items():
        action = _DIFF_KINDS.get(kind)
        if action is None:
            continue
        for level in levels:
            index, *parts = _path_of(level)
            difference = _difference(action, parts, level, old[index], new[index])
            found[int(index)].setdefault(difference.path, difference)
    return [sorted(diffs.values(), key=lambda d: _sort_key(d.path)) for diffs in found]


def _path_of(level: Any) -> list[Any]:
    """The keys from the root down to a DeepDiff tree level.

    What `level.path(output_format="list")` gives, without its string round trip through
    ast.literal_eval, which dominated plans of thousands of updates.
    """
    parts = []
    step = level.all_up
    while step is not None and step is not level:
        relation = step.t1_child_rel or step.t2_child_rel
        if relation is None:
            break
        parts.append(relation.param)
        step = step.down
    return parts


def _difference(
    action: DifferenceAction, parts: list[Any], level: Any, old: dict[str, Any], new: dict[str, Any]
) -> Difference:
    list_at = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    if list_at is not None:
        # A label set is one value: show the whole list before and after.
        parts = parts[:list_at]
        return Difference(_readable(parts), "change", _lookup(old, parts), _lookup(new, parts))
    return Difference(
        _readable(parts),
        action,
        None if action == "add" else level.t1,
        None if action == "remove" else level.t2,
    )


def _without_equal_members(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drop the fields and keyed members both sides share, keeping the paths of the rest.

    DeepDiff walks every node it is given; an update usually touches one or two attributes
    of an account with dozens, so this keeps a plan of thousands of updates quick.
    """
    old_out: dict[str, Any] = {}
    new_out: dict[str, Any] = {}
    for name in old.keys() | new.keys():
        before, after = old.get(name, _MISSING), new.get(name, _MISSING)
        if before == after:
            continue
        if name in KEYED_FIELDS and isinstance(before, dict) and isinstance(after, dict):
            before, after = _differing_members(before, after)
        if before is not _MISSING:
            old_out[name] = before
        if after is not _MISSING:
            new_out[name] = after
    return old_out, new_out


def _differing_members(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    same = {key for key in before.keys() & after.keys() if before[key] == after[key]}
    return (
        {k: v for k, v in before.items() if k not in same},
        {k: v for k, v in after.items() if k not in same},
    )


_MISSING = object()


def _sort_key(path: str) -> tuple[int, str]:
    top = path.split("[", 1)[0].split(".", 1)[0]
    # Changes are listed in the file's field order; holders and portfolios come last alike.
    order = FIELD_ORDER[: FIELD_ORDER.index("accountHolders")]
    rank = order.index(top) if top in order else len(order)
    return rank, path


def diff_view(body: dict[str, Any]) -> dict[str, Any]:
    """A canonical body reshaped for diffing and display (never sent anywhere)."""
    view = {k: v for k, v in body.items() if k not in KEYED_FIELDS}
    view["identifiers"] = _properties_view(body.get("identifiers", {}))
    view["properties"] = _properties_view(body.get("properties", {}))
    view["accountHolders"] = {
        holder["key"]: {k: v for k, v in holder.items() if k not in ("key", "identifiers")}
        | {"identifiers": _properties_view(holder.get("identifiers", {}))}
        for holder in body.get("accountHolders", [])
    }
    view["investmentPortfolios"] = {
        item["key"]: {k: v for k, v in item.items() if k != "key"}
        for item in body.get("investmentPortfolios", [])
    }
    return view


def _properties_view(properties: dict[str, Any]) -> dict[str, Any]:
    return {key: _property_view(prop) for key, prop in properties.items()}


def _property_view(prop: Any) -> dict[str, Any]:
    if isinstance(prop, str):  # a holder's identifier under the scoped API: plain text
        return {"value": prop}
    return {"value": _value_view(prop.get("value", {}))} | {
        k: v for k, v in prop.items() if k not in ("key", "value")
    }


def _value_view(value: dict[str, Any]) -> Any:
    if "labelValue" in value:
        return value["labelValue"]
    if "labelValueSet" in value:
        return list(value["labelValueSet"].get("values", []))
    if "metricValue" in value:
        metric = value["metricValue"]
        return metric["value"] if metric.get("unit") is None else dict(metric)
    return value


def _readable(parts: Sequence[Any]) -> str:
    """['properties', 'K', 'value'] -> properties["K"].value"""
    out = str(parts[0])
    next_is_key = parts[0] in KEYED_FIELDS
    for part in parts[1:]:
        if next_is_key or not (isinstance(part, str) and part.isidentifier()):
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
            next_is_key = False
        else:
            out += "." + part
            next_is_key = part in KEYED_FIELDS
    return out


def _lookup(tree: Any, parts: Sequence[Any]) -> Any:
    for part in parts:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree
