"""Finding submissions: one folder, or a class folder of them, where every entry gets a row.

A folder is a submission if it holds a manifest or the default programs; a submission whose programs
sit one level down (`bob/project/tracker.py`, as an upload often is) is graded there, and the report
says where it looked. A `.zip` or `.tar.gz` is unpacked safely (no path outside its folder, no links,
no devices, bounded in size and count) and graded like a folder. An entry that is none of these
still gets its row, with the reason ("found server.py and client.py: add a tweeter.yaml naming
them"). Hidden entries, the output folder and loose files that are not archives (a class folder's
notes, an export's metadata) are passed over; `loose_files` names the latter so the caller can say so.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.inputs.manifest import MANIFEST_NAME

DEFAULT_PROGRAMS = ("tracker.py", "user.py")
ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar")
SOURCES = (".py", ".c", ".cc", ".cpp", ".h", ".hpp", ".java")
MAX_ARCHIVE_BYTES = 50 * 1024 * 1024  # unpacked
MAX_ARCHIVE_FILES = 2000


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path  # the folder graded
    origin: Path | None = None  # the class folder's entry it came from, when that is not `path`
    problem: str | None = None  # why it cannot be graded (then `path` is the entry itself)


def is_submission(folder: Path) -> bool:
    return (folder / MANIFEST_NAME).is_file() or all((folder / p).is_file() for p in DEFAULT_PROGRAMS)


def discover(paths: list[Path], unpack_into: Path | None = None, skip: tuple[Path, ...] = ()) -> list[Submission]:
    """Submissions named by `paths`, in order; names made unique for the output folders. Archives are
    unpacked into `unpack_into`; `skip` (the output folder) is passed over."""
    found: list[Submission] = []
    skipped = {p.resolve() for p in skip}
    for path in paths:
        if not path.exists():
            raise HarnessError(f"{path}: no such folder")
        if path.is_file() or is_submission(path):
            found.append(_entry(path, unpack_into))
            continue
        loose = set(loose_files(path))
        entries = [e for e in _class_entries(path) if e.resolve() not in skipped and e not in loose]
        if not entries:
            raise HarnessError(f"{path}: not a submission (no {MANIFEST_NAME}, no tracker.py and user.py) "
                               "and holds nothing else to grade")
        nested = _nested(path)
        if nested is not None and len(entries) == 1:  # one submission, its programs one level down
            found.append(Submission(path.name, nested, origin=path))
            continue
        found.extend(_entry(entry, unpack_into) for entry in entries)
    return _named(found)


def _class_entries(folder: Path) -> list[Path]:
    return [e for e in sorted(folder.iterdir()) if not e.name.startswith((".", "__"))]


def loose_files(folder: Path) -> list[Path]:
    """Files of a class folder that are neither submission folders nor archives: passed over, and named."""
    if not folder.is_dir() or is_submission(folder):
        return []
    return [e for e in _class_entries(folder) if e.is_file() and not e.name.lower().endswith(ARCHIVES)]


def _entry(entry: Path, unpack_into: Path | None) -> Submission:
    """One entry of a class folder as a submission, or as the reason it is not one."""
    if entry.is_file():
        if not entry.name.lower().endswith(ARCHIVES):
            return Submission(entry.name, entry, problem=f"a file ({entry.name}), not a submission folder or an archive")
        if unpack_into is None:
            return Submission(entry.name, entry, problem="an archive: grade its class folder to unpack it")
        try:
            folder = unpack(entry, unpack_into)
        except HarnessError as exc:
            return Submission(_stem(entry), entry, problem=str(exc))
        graded = _entry(folder, None)
        return Submission(_stem(entry), graded.path, origin=entry, problem=graded.problem)
    if is_submission(entry):
        return Submission(entry.name, entry)
    nested = _nested(entry)
    if nested is not None:
        return Submission(entry.name, nested, origin=entry)
    return Submission(entry.name, entry, problem=_not_a_submission(entry))


def _nested(folder: Path) -> Path | None:
    """The one subfolder (one level down) that is a submission, if there is exactly one."""
    candidates = [c for c in sorted(folder.iterdir()) if c.is_dir() and not c.name.startswith((".", "__"))
                  and is_submission(c)]
    return candidates[0] if len(candidates) == 1 else None


def _not_a_submission(folder: Path) -> str:
    """What was found instead, and what to add."""
    sources = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                     if p.is_file() and p.suffix in SOURCES and not any(part.startswith(".") for part in p.parts))
    if not sources and not any(folder.iterdir()):
        return "an empty folder"
    if not sources:
        return "no source files (.py, .c, .cpp, .java) in it"
    shown = ", ".join(sources[:4]) + (f" and {len(sources) - 4} more" if len(sources) > 4 else "")
    return (f"found {shown} but no tracker.py and user.py: add a {MANIFEST_NAME} naming them "
            "(`tweeter-harness manifest-template` writes a first guess)")


def _stem(archive: Path) -> str:
    name = archive.name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an uploaded archive into a folder of its own under `into`; refuse what could escape it
    or fill the disk."""
    target = into / _stem(archive)
    index = 1
    while target.exists():
        index += 1
        target = into / f"{_stem(archive)}-{index}"
    target.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            _unzip(archive, target)
        else:
            _untar(archive, target)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise HarnessError(f"{archive.name}: not a readable archive ({exc})") from None
    return target


def _check(name: str, size: int, total: int, count: int, archive: Path) -> None:
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts:
        raise HarnessError(f"{archive.name}: refused: {name!r} would be unpacked outside its folder")
    if total + size > MAX_ARCHIVE_BYTES or count > MAX_ARCHIVE_FILES:
        raise HarnessError(f"{archive.name}: refused: over {MAX_ARCHIVE_BYTES // 2**20} MiB or "
                           f"{MAX_ARCHIVE_FILES} files unpacked")


def _unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        total = 0
        for count, info in enumerate(zipped.infolist(), start=1):
            _check(info.filename, info.file_size, total, count, archive)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise HarnessError(f"{archive.name}: refused: {info.filename!r} is a link")
            total += info.file_size
        zipped.extractall(target)


def _untar(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tarred:
        members = tarred.getmembers()
        total = 0
        for count, member in enumerate(members, start=1):
            _check(member.name, member.size, total, count, archive)
            if not (member.isfile() or member.isdir()):
                raise HarnessError(f"{archive.name}: refused: {member.name!r} is not a plain file or folder")
            total += member.size
        tarred.extractall(target, filter="data")


def _named(found: list[Submission]) -> list[Submission]:
    used: dict[str, int] = {}
    result = []
    for item in found:
        base = item.name or "submission"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}-{used[base]}"
        result.append(Submission(name, item.path.resolve(), item.origin.resolve() if item.origin else None,
                                 item.problem))
    return result
