"""Finding account files: the directories searched, the files named, the paths shown.

Account files end in .yaml or .yml, in any case. Hidden directories (.git, .iasync, ...) are
skipped and symlinked directories not followed; hidden files (`.x.yaml`) are not account files,
but `find` names them, for the loader to refuse rather than skip without a word. A directory of
10,000 files is listed with one `os.scandir` a directory and no `Path` a file; in a git work
tree, when git has listed the files already (`gitblobs`), not even that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from iasync.settings import Settings

if TYPE_CHECKING:
    from iasync.accounts.gitblobs import GitListing

ACCOUNT_SUFFIXES = (".yaml", ".yml")


def display_path(path: Path, settings: Settings) -> str:
    """The path as problems and correlation ids show it: relative to the project root, POSIX.

    Always printable text: bytes of a name that are not UTF-8 are shown as `\\xff` escapes
    (see `undecodable_name`), so that JSON output and saved plans stay valid UTF-8.
    """
    absolute, root = os.path.abspath(path), os.path.abspath(settings.root)
    if absolute == root:
        return "."
    if within(absolute, root):
        shown = absolute[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    else:
        shown = path.as_posix()
    return _escaped(shown) if undecodable_name(shown) else shown


def in_repository(shown: str) -> bool:
    """Whether a path as `display_path` shows it lies inside the project root."""
    return not shown.startswith("/") and ".." not in shown.split("/")


def undecodable_name(name: str) -> bool:
    """Whether a file name holds bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _escaped(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def find_account_files(paths: Sequence[Path], settings: Settings) -> list[Path]:
    """Account files under `paths` (files taken as given, directories searched), sorted.

    Hidden directories (.git, .iasync, ...) are skipped; symlinked directories are not followed.
    A path that does not exist is returned as is, for `load_accounts` to report.
    """
    return [
        Path(found.given) if found.path is None else found.path for found in find(paths, settings)
    ]


class Found(NamedTuple):  # a tuple: built 10,000 times a run, in a fraction of a dataclass's time
    """A file found: as named (`given`, the `Path` itself when named outright) and absolute."""

    given: str
    absolute: str
    path: Path | None  # the argument itself, when the file was named rather than found


def find(
    paths: Sequence[Path],
    settings: Settings,
    hidden: list[str] | None = None,
    git: GitListing | None = None,
) -> list[Found]:
    """`find_account_files` as strings, in the order `Path`s sort (by their parts).

    Hidden files named like account files (`.x.yaml`) are not among them: `hidden`, when given,
    gets their paths, as named. With `git` (what `git ls-files` listed of these paths), the
    directories are not walked: git has already listed their files, and the same are found.
    """
    found: dict[str, tuple[str, Found]] = {}  # by absolute path: read once
    search = _walk if git is None or os.sep != "/" else partial(_listed, git=git)
    for path in paths or [settings.accounts_path]:
        if path.is_dir():
            for given, absolute in search(path, hidden):
                found.setdefault(absolute, (_sort_key(given), Found(given, absolute, None)))
        else:
            absolute = os.path.abspath(path)
            found.setdefault(absolute, (_sort_key(str(path)), Found(str(path), absolute, path)))
    return [item for _, item in sorted(found.values(), key=_first)]


def _sort_key(given: str) -> str:
    # Paths sort by their parts ("a/b" < "a-c"): as strings, with the separator below any
    # character a name can hold. A string sorts 100,000 files in a fraction of a tuple's time.
    return given.replace(os.sep, "\0") if os.sep == "/" else str(Path(given)).replace(os.sep, "\0")


def _first(pair: tuple[str, Found]) -> str:
    return pair[0]


def _walk(directory: Path, hidden: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """(path as `Path(parent, name)` would spell it, absolute path) of each account file.

    As `os.walk` would find them (a symlinked directory is listed but not entered; an unreadable
    one is skipped), with one `os.scandir` a directory, no `Path` and no `stat` a file (the
    directory listing tells files from directories): 10,000 files in milliseconds.
    """
    top = str(directory)
    shown = "" if top == "." else top if top.endswith(os.sep) else top + os.sep
    absolute = os.path.abspath(top)
    absolute = absolute if absolute.endswith(os.sep) else absolute + os.sep
    pending = [(shown, absolute, top)]
    while pending:
        shown, absolute, where = pending.pop()
        try:
            with os.scandir(where) as listing:
                entries = list(listing)
        except OSError:
            continue  # unreadable: skipped, as os.walk skips it
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                account_like = name.lower().endswith(ACCOUNT_SUFFIXES)
                if hidden is not None and account_like and not _is_dir(entry):
                    hidden.append(shown + name)
                continue
            if _is_dir(entry):
                if not _is_symlink(entry):
                    pending.append((shown + name + os.sep, absolute + name + os.sep, entry.path))
            elif name.lower().endswith(ACCOUNT_SUFFIXES):  # `x.YAML` is an account file too
                yield shown + name, absolute + name


def _listed(
    directory: Path, hidden: list[str] | None = None, *, git: GitListing
) -> Iterator[tuple[str, str]]:
    """What `_walk` finds, from git's listing of the work tree instead of the file system: no
    directory is read, no file looked at, but the few git cannot vouch for (links, untracked
    files, which may be directories) and the directories git does not enter (walked)."""
    top = str(directory)
    shown = "" if top == "." else top if top.endswith("/") else top + "/"
    absolute = os.path.abspath(top)
    prefix = absolute if absolute.endswith("/") else absolute + "/"
    start = len(prefix)
    unsure = git.unsure
    for path in git.files:
        if not path.startswith(prefix):
            continue
        relative = path[start:]
        cut = relative.rfind("/") + 1
        folders, name = relative[:cut], relative[cut:]
        if folders.startswith(".") or "/." in folders:
            continue  # in a hidden directory
        if not name.lower().endswith(ACCOUNT_SUFFIXES):
            continue
        if path in unsure and (os.path.isdir(path) or not os.path.lexists(path)):
            continue
        if name.startswith("."):
            if hidden is not None:
                hidden.append(shown + relative)
            continue
        yield shown + relative, path
    for folder in git.opaque:  # submodules, nested repositories: walked, as a walk would
        relative = folder[start:]
        if folder.startswith(prefix) and not relative.startswith(".") and "/." not in relative:
            yield from _walk(Path(shown + relative), hidden)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink, as os.walk does to sort dirs from files
    except OSError:
        return False


def _is_symlink(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)
