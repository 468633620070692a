"""Replace several files at once, all or none, even across a crash.

A commit writes each new file next to its target (same directory, so the rename cannot cross file
systems) and fsyncs it; then it writes a journal naming every (staged file, target) pair, fsyncs it
and renames it into place: that rename is the moment of commit. Only then are the staged files
renamed over their targets and the journal removed. After a crash, `recover` finishes a commit whose
journal exists (the renames are repeated for the staged files still there) and deletes staged files
that no journal names (a commit that never happened). Readers see each file old or new, never torn.
"""

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path

log = logging.getLogger(__name__)
STAGED = ".msc-kg-staged-"  # prefix of staged files; `recover` deletes the ones no journal names


def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path, data):
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def commit(changes, journal):
    """Replace each file of changes ({Path: bytes}) with its bytes, all or none.

    journal is the path of the journal file (one per dataset; the caller holds the write lock).
    """
    journal = Path(journal)
    staged = []
    try:
        for target, data in changes.items():
            target = Path(target).resolve()
            temp = target.parent / f"{STAGED}{uuid.uuid4().hex}-{target.name}"
            staged.append((temp, target))
            _write_synced(temp, data)
        record = journal.parent / f"{STAGED}{uuid.uuid4().hex}-{journal.name}"
        _write_synced(record, json.dumps([[str(t), str(p)] for t, p in staged]).encode("utf-8"))
        os.replace(record, journal)
        _fsync_dir(journal.parent)
    except OSError:
        for temp, _ in staged:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise
    _finish(journal)


def _finish(journal):
    """Carry out the renames the journal names (again, after a crash), then drop the journal."""
    pairs = json.loads(journal.read_text(encoding="utf-8"))
    directories = set()
    for temp, target in pairs:
        temp, target = Path(temp), Path(target)
        if temp.exists():
            os.replace(temp, target)
        directories.add(target.parent)
    for directory in directories:
        _fsync_dir(directory)
    journal.unlink()
    _fsync_dir(journal.parent)


def recover(journal, directories):
    """At start-up: finish a commit cut short by a crash, and delete files staged for one that never
    committed. directories: where staged files may be (every data file's directory)."""
    journal = Path(journal)
    if journal.exists():
        log.warning("finishing a commit interrupted by a crash (%s)", journal)
        _finish(journal)
    for directory in {Path(d) for d in directories}:
        for leftover in directory.glob(STAGED + "*"):
            log.warning("deleting %s, staged by a write that never committed", leftover)
            leftover.unlink()


@contextlib.contextmanager
def locked(path):
    """An exclusive OS lock on path, so that two server processes never commit at the same time."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_atomic(path, content):
    """Write content (bytes or str) through a temporary file beside path, so readers see old or new."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private; the dumps are published, so readable by all like any output.
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    # The rename itself is only durable once the directory entry is on disk.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
