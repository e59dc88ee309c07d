"""A submission's Python modules compiled once per grading process and laid beside each working copy's sources.

A working copy starts without bytecode (a submission's own `__pycache__` is left out: it may be stale
or made by another interpreter) and its programs may not write any (PYTHONDONTWRITEBYTECODE), so every
Python program compiled its modules from source at every start: for the reference about 40 ms of CPU
per process, several processes per scenario, the largest part of its start-up. Compiling runs none of
the code, so the harness compiles each source text once and writes the interpreter's own cached file
beside each module of each copy (the `__pycache__` name of PEP 3147, the timestamp header of PEP 552).
The interpreter checks that header against the source's modification time and size as it always does;
an interpreter of another version looks for a file of its own tag and compiles as before; a source that
does not compile gets no file, so the program reports its own error. Nothing the programs do changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import threading
from pathlib import Path

MAX_SOURCE_BYTES = 512 * 1024  # a larger module compiles itself, as before
MAX_SOURCES = 256  # per working copy: a submission that ships a whole library is not compiled in full
MAX_CACHED_BYTES = 64 * 1024 * 1024  # bytecode kept for the whole grading process
COMPILE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)
_lock = threading.Lock()
_compiled: dict[bytes, bytes | None] = {}  # sha-256 of a source text -> its marshalled code (None: none)
_cached_bytes = 0


def lay_into(copy: Path) -> int:
    """Write the cached bytecode of every Python source in the working copy `copy` (links are not
    followed); returns how many files were written."""
    if sys.implementation.cache_tag is None:
        return 0
    return sum(_lay_beside(source) for source in _sources(copy))


def _sources(copy: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(copy):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder, name) for name in sorted(files) if name.endswith(".py")]
        if len(found) >= MAX_SOURCES:
            return found[:MAX_SOURCES]
    return found


def _lay_beside(source: Path) -> bool:
    try:
        status = source.lstat()
        if not source.is_file() or source.is_symlink() or status.st_size > MAX_SOURCE_BYTES:
            return False
        text = source.read_bytes()
        code = _code_of(text, source)
        if code is None:
            return False
        target = Path(importlib.util.cache_from_source(str(source)))
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(_header(status) + code)
    except OSError:
        return False
    return True


def _header(status: os.stat_result) -> bytes:
    """PEP 552's header for a cache checked against the source's modification time and size."""
    return importlib.util.MAGIC_NUMBER + b"".join(
        (value & 0xFFFFFFFF).to_bytes(4, "little") for value in (0, int(status.st_mtime), status.st_size))


def _code_of(text: bytes, source: Path) -> bytes | None:
    """The marshalled code of a source text, compiled on first sight (the interpreter corrects the
    file name a cached code object carries to the path it was loaded from)."""
    global _cached_bytes
    key = hashlib.sha256(text).digest()
    with _lock:
        if key in _compiled:
            return _compiled[key]
    try:
        code: bytes | None = marshal.dumps(compile(text, str(source), "exec", dont_inherit=True, optimize=0))
    except COMPILE_ERRORS:
        code = None
    with _lock:
        if _cached_bytes + len(code or b"") <= MAX_CACHED_BYTES:
            _compiled[key] = code
            _cached_bytes += len(code or b"")
    return code
