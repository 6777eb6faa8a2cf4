"""Write the scaffold of a repository: every file, or (when any is already there) none.

Templates are stored without their leading dot (`templates/gitignore` for `.gitignore`), so that
this repository's own git, pre-commit and CI never take them for their own files. A few carry
placeholders (`@NAME@`) filled from the iasync that writes them: its version, and its default
state path, so the scaffold never disagrees with the iasync that made it; and from the API
generation chosen (`api`, by default today's scoped API, and its `scope`): the settings, and
which schema goes to `schema/investment-account.schema.json`.

Nothing is ever overwritten: existing files are found first and refused as a whole; each file is
then linked into place (a link fails if the name was taken meanwhile, where a rename would
replace it), and a failure part-way removes what this run wrote, so trying again is clean.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from iasync.errors import IasyncError
from iasync.files import fsync_directory, write_temporary

#: Which CI pipelines to write: `both` (the default), or only GitHub's or GitLab's.
CI_CHOICES = ("both", "github", "gitlab")
#: The API generation a new repository is set up for: today's LUSID, unless told otherwise.
DEFAULT_API = "scoped"
DEFAULT_SCOPE = "default"
SCHEMA_TARGET = "schema/investment-account.schema.json"


@dataclass(frozen=True)
class ScaffoldFile:
    target: str  # where it goes, relative to the repository's root, with "/"
    source: str  # the package resource it is made from, relative to the `iasync` package
    executable: bool = False
    ci: str | None = None  # "github" or "gitlab": written only with that CI's pipeline


_T = "scaffold/templates/"

FILES: tuple[ScaffoldFile, ...] = (
    ScaffoldFile("iasync.toml", _T + "iasync.toml"),
    ScaffoldFile(".gitignore", _T + "gitignore"),
    ScaffoldFile(".pre-commit-config.yaml", _T + "pre-commit-config.yaml"),
    ScaffoldFile("accounts/example.yaml", _T + "accounts/example.yaml"),
    # The schema of the repository's API generation (`_source`), under one name either way.
    ScaffoldFile(SCHEMA_TARGET, "data/investment-account.schema.json"),
    ScaffoldFile("ci/README.md", _T + "ci/README.md"),
    ScaffoldFile("ci/common.sh", _T + "ci/common.sh"),
    ScaffoldFile("ci/plan.sh", _T + "ci/plan.sh", executable=True),
    ScaffoldFile("ci/apply.sh", _T + "ci/apply.sh", executable=True),
    ScaffoldFile("ci/comment.py", _T + "ci/comment.py", executable=True),
    ScaffoldFile(".github/workflows/iasync.yml", _T + "github-workflow.yml", ci="github"),
    ScaffoldFile(".gitlab-ci.yml", _T + "gitlab-ci.yml", ci="gitlab"),
)


class ScaffoldExists(IasyncError):
    """Some files of the scaffold are there already: nothing was written."""

    def __init__(self, root: Path, existing: list[str]) -> None:
        self.existing = existing
        listed = "".join(f"\n  {path}" for path in existing)
        super().__init__(
            f"{len(existing)} of the files to write already exist{_in(root)}; nothing was "
            f"written:{listed}\nMove them aside (or init another directory) and run "
            "`iasync init` again."
        )


def _in(root: Path) -> str:
    return "" if root == Path() else f" in {root}"


def scaffold_files(ci: str = "both") -> list[ScaffoldFile]:
    """The files `iasync init --ci CI` writes, in the order it writes them."""
    if ci not in CI_CHOICES:
        raise IasyncError(f"--ci must be one of {', '.join(CI_CHOICES)}, not {ci!r}")
    return [f for f in FILES if f.ci is None or ci in ("both", f.ci)]


def write_scaffold(
    root: Path, ci: str = "both", api: str = DEFAULT_API, scope: str = DEFAULT_SCOPE
) -> list[str]:
    """Write the scaffold into `root` (made if missing); the targets written, in order.

    `api`: the API generation the repository is for ("scoped", today's LUSID, or "unscoped",
    the reference page's); `scope`: under "scoped", the setting `scope` written.

    Raises `ScaffoldExists`, having written nothing, when any target (or a folder on its way)
    is already there.
    """
    files = scaffold_files(ci)
    _check_api(api, scope)
    if root.exists() and not root.is_dir():
        raise IasyncError(f"{root} is a file, not a directory: name a directory to init")
    existing = _existing(root, files)
    if existing:
        raise ScaffoldExists(root, existing)
    contents = {f.target: _render(f, api, scope) for f in files}  # all read before any write
    written: list[Path] = []
    made_dirs: list[Path] = []
    try:
        for file in files:
            target = root / file.target
            made_dirs += _make_parents(target.parent)
            try:
                _write_new(target, contents[file.target], 0o755 if file.executable else 0o644)
            except FileExistsError:  # made by someone else since the check above
                raise ScaffoldExists(root, [file.target]) from None
            written.append(target)
    except BaseException as error:
        _remove(written, made_dirs)  # a clean slate: running init again just works
        if isinstance(error, OSError):
            where = error.filename or root
            message = f"cannot write {where}: {error.strerror}; nothing was written"
            raise IasyncError(message) from None
        raise
    return [file.target for file in files]


def _existing(root: Path, files: list[ScaffoldFile]) -> list[str]:
    """Targets already there, and folders on a target's way that are files instead."""
    found: set[str] = set()
    for file in files:
        target = root / file.target
        if os.path.lexists(target):
            found.add(file.target)
        for parent in target.relative_to(root).parents:
            if parent != Path() and (root / parent).exists() and not (root / parent).is_dir():
                found.add(parent.as_posix())
    return sorted(found)


def _check_api(api: str, scope: str) -> None:
    import re

    from iasync.accounts.format import API_GENERATIONS, SCOPE_PATTERN

    if api not in API_GENERATIONS:
        raise IasyncError(f"--api must be scoped or unscoped, not {api!r}")
    if not re.fullmatch(SCOPE_PATTERN, scope):
        raise IasyncError(
            f"--scope {scope!r} is not a LUSID scope: use 1 to 64 letters, digits, '-' or '_'"
        )


def _source(file: ScaffoldFile, api: str) -> str:
    if file.target == SCHEMA_TARGET and api == "scoped":
        from iasync.accounts.schema import SCOPED_SCHEMA_FILENAME

        return f"data/{SCOPED_SCHEMA_FILENAME}"
    return file.source


def _api_settings(api: str, scope: str) -> str:
    if api == "scoped":
        return (
            "# The LUSID API: today's (scoped). \"unscoped\" is the API reference page's\n"
            "# (lusid-sdk 2.1.859), whose accounts have no scope.\n"
            'api = "scoped"\n'
            "# The scope of every account whose file names none with a top-level `scope:`.\n"
            f'scope = "{scope}"'
        )
    return (
        "# The LUSID API: the reference page's (lusid-sdk 2.1.859), without scopes. Today's\n"
        '# LUSID is api = "scoped", with scope = "<the accounts\' scope>".\n'
        'api = "unscoped"'
    )


def _render(file: ScaffoldFile, api: str = DEFAULT_API, scope: str = DEFAULT_SCOPE) -> bytes:
    from iasync import __version__
    from iasync.settings import Settings

    data = resources.files("iasync").joinpath(_source(file, api)).read_bytes()
    if not file.source.startswith(_T):
        return data
    text = data.decode("utf-8")
    text = text.replace("@IASYNC_PACKAGE@", f"iasync=={__version__}")
    text = text.replace("@STATE@", Path(Settings().state).as_posix())  # a str: may be a URL
    text = text.replace("@API_SETTINGS@", _api_settings(api, scope))
    return text.encode("utf-8")


def _make_parents(directory: Path) -> list[Path]:
    """Make `directory` and the folders above it that are missing; those it made, top first."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for folder in reversed(missing):
        folder.mkdir()
    return list(reversed(missing))


def _write_new(target: Path, data: bytes, mode: int) -> None:
    """Write `target`, which must not exist: `os.link` refuses a taken name, a rename would not."""
    temporary = write_temporary(target, data, mode=mode)
    try:
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(target.parent)


def _remove(written: list[Path], made_dirs: list[Path]) -> None:
    for path in reversed(written):
        path.unlink(missing_ok=True)
    for folder in reversed(made_dirs):
        # Not empty: something else was put there meanwhile; leave it.
        with contextlib.suppress(OSError):
            folder.rmdir()
