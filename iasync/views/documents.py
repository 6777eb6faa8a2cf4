"""The one spelling of every JSON output: one object, with `format_version`, indented, UTF-8."""

from __future__ import annotations

import json
from typing import Any

#: The version of every JSON output's shape (plan, apply, validate, state list; see
#: docs/contracts.md): fields may be added within a version, never removed or changed.
JSON_FORMAT_VERSION = 1


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
