"""`iasync init`: the files of a new repository of account files, never over an existing one.

The files are package data under `templates/` (plus the JSON Schema from `iasync/data/`), listed
with where each goes in `writer.FILES`; `writer.write_scaffold` writes them all or none.
"""

from iasync.scaffold.writer import (
    CI_CHOICES,
    FILES,
    ScaffoldExists,
    ScaffoldFile,
    scaffold_files,
    write_scaffold,
)

__all__ = [
    "CI_CHOICES",
    "FILES",
    "ScaffoldExists",
    "ScaffoldFile",
    "scaffold_files",
    "write_scaffold",
]
