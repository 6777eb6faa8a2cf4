"""Loading many files at once: above a few hundred, spread over a process pool (one per core,
forked, so the workers start with everything imported and the validators built)."""

from __future__ import annotations

import os
from pathlib import Path

from iasync.accounts.loaded import FileOutcome
from iasync.accounts.validation import fast_validator, load_file
from iasync.settings import Settings

#: Below this many files one process is quicker than starting a pool.
PARALLEL_THRESHOLD = 300


def load_all(files: list[Path], settings: Settings, canonical: bool) -> list[FileOutcome]:
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_THRESHOLD or workers < 2:
        return _load_chunk(files, settings, canonical)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Forked workers start in milliseconds with everything imported; without fork, stay serial.
    if "fork" not in multiprocessing.get_all_start_methods():
        return _load_chunk(files, settings, canonical)

    # Build the validators once here: forked workers inherit them instead of each building its own.
    fast_validator(settings.api)
    chunk = max(50, len(files) // (workers * 4))
    chunks = [files[i : i + chunk] for i in range(0, len(files), chunk)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_load_chunk, chunks, [settings] * len(chunks), [canonical] * len(chunks))
        return [outcome for outcomes in results for outcome in outcomes]


def _load_chunk(files: list[Path], settings: Settings, canonical: bool) -> list[FileOutcome]:
    return [load_file(path, settings, canonical=canonical) for path in files]
