"""The validation cache's files (kg.incremental's memory): where they are, how they are read, checked
and written, and the content hashes and digests they are keyed by.

Two JSON files per set of data folders, each with the cache format version:
- validate-<folders>.json: each file's entry (content hash, whether it states a study, its results,
  links and titles), each cross-file pass's last answer, and the context and digest of the run;
- validate-<folders>.last.json: the last run's digest and outcome, for the server's start-up check.

Content hashes decide what is validated again. Both files also keep each file's size and
st_mtime_ns next to its hash, and the moment those stats were taken: as git's index does, a file
whose size and mtime are the recorded ones is taken to have the recorded hash without being read,
so a start over 100,000 unchanged files reads none of them (decision 0010, amended).
"""

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, fields
from pathlib import Path

import pyshacl
import rdflib

from kg import dataset
from kg.commit import write_atomic
from kg.errors import DataParseError
from kg.validation import SEVERITY_RANK, Result

CACHE_VERSION = 3  # raise it when a change to kg/ changes what a validation reports or the cache holds
# Results also depend on the validator: an upgrade validates everything again.
ENGINE = f"pyshacl {pyshacl.__version__}, rdflib {rdflib.__version__}"
# A file whose recorded mtime is this close to (or after) the moment its stats were taken may have
# been written again within the same clock tick, after the stat, without its mtime changing: such
# "racily clean" files are read (git does the same). 2 s covers the coarsest file systems' ticks.
RACY_NS = 2_000_000_000
RESULT_FIELDS = {f.name for f in fields(Result)}
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileHashes:
    """Every file's content hash, and what the next run may trust of them."""

    hashes: dict  # {path: content hash}
    stats: dict  # {resolved path: {"hash", "size", "mtime_ns"}}, to record
    taken: int  # time.time_ns() before the first stat: the record's "stats_taken"
    read: list  # the files read to hash them (the others matched their recorded stats)


def file_hashes(files, keys, memo=None, taken=None):
    """FileHashes of files ({path: resolved path} in keys), trusting a recorded hash in memo
    ({resolved path: {"hash", "size", "mtime_ns"}}, stats taken at `taken`) where the file's size
    and mtime are still the recorded ones; anything odd in the memo means reading the file."""
    memo = memo if isinstance(memo, dict) else {}
    now = time.time_ns()
    hashes, stats, read = {}, {}, []
    for path in files:
        key = keys[path]
        try:
            # The stat comes before the read: a write between the two shows next time as a stat
            # that differs from the one recorded, never as a stale hash trusted.
            stat = path.stat()
            known = memo.get(key)
            if _unchanged(known, stat, taken):
                content_hash = known["hash"]
            else:
                content_hash = hash_bytes(path.read_bytes())
                read.append(path)
        except OSError as exc:  # what parsing the file would say
            raise DataParseError(dataset.display_path(path), exc.strerror or str(exc)) from None
        hashes[path] = content_hash
        stats[key] = {"hash": content_hash, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return FileHashes(hashes, stats, now, read)


def _unchanged(known, stat, taken):
    if not isinstance(known, dict) or type(taken) is not int:
        return False
    size, mtime, content_hash = known.get("size"), known.get("mtime_ns"), known.get("hash")
    if type(size) is not int or type(mtime) is not int or not isinstance(content_hash, str) \
            or not SHA256.fullmatch(content_hash):
        return False
    return size == stat.st_size and mtime == stat.st_mtime_ns and mtime < taken - RACY_NS


def cache_file(keys, cache_dir):
    """The per-file cache of these files ({path: resolved path}): one per set of folders, so that a
    file added or removed keeps the others' results."""
    folders = sorted({os.path.dirname(key) for key in keys.values()})
    return Path(cache_dir) / f"validate-{hash_bytes(chr(10).join(folders).encode())[:16]}.json"


def last_file(cache):
    """The record of the last run's outcome beside the per-file cache."""
    return cache.with_suffix(".last.json")


def digest(files, keys, hashes):
    """One hash of the shapes and of every file's name and content: equal digests, equal results."""
    shapes = [f"{path.name}\t{hash_bytes(path.read_bytes())}" for path in dataset.shape_files()]
    return hash_bytes("\n".join([str(CACHE_VERSION), ENGINE, *shapes,
                                 *(f"{keys[path]}\t{hashes[path]}" for path in files)]).encode())


def resolved(files):
    """{path: its real path as a string}, resolving each directory once (Path.resolve() costs a
    system call per component of every path: most of a start's check at 10,000 files; so does
    making Path objects, hence strings)."""
    folders, keys = {}, {}
    for path in files:
        text = str(path)
        if os.path.islink(text):
            keys[path] = str(path.resolve())
            continue
        parent, name = os.path.split(text)
        folder = folders.get(parent) or folders.setdefault(parent, str(Path(parent or ".").resolve()))
        keys[path] = os.path.join(folder, name)
    return keys


def hash_bytes(data):
    return hashlib.sha256(data).hexdigest()


def valid_entry(entry):
    """Whether a cached file entry holds what a run reads of it; any other is validated again."""
    if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) \
            or not isinstance(entry.get("study"), bool):
        return False
    if not entry["study"] or "results" not in entry:
        return True
    lists = [entry.get("links"), entry.get("titles")]
    return valid_results(entry["results"]) and valid_holders(entry.get("holders")) and all(
        isinstance(found, list) and all(isinstance(x, str) for x in found) for found in lists)


def valid_holders(holders):
    return isinstance(holders, dict) and all(
        isinstance(node, str) and isinstance(iri, str) for node, iri in holders.items())


def valid_results(results):
    return isinstance(results, list) and all(
        isinstance(r, dict) and set(r) == RESULT_FIELDS and r["severity"] in SEVERITY_RANK for r in results)


def read_json(path):
    """A cache file's content; {} when it is missing, unreadable, not JSON or of another version."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) and content.get("version") == CACHE_VERSION else {}


def read(path):
    """The per-file cache, with "files" and "passes" dicts."""
    cache = read_json(path)
    for key in ("files", "passes"):
        if not isinstance(cache.get(key), dict):
            cache[key] = {}
    return cache


def write(path, content, warn):
    """Write a cache file whole (readers and concurrent runs see the old one or the new one)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(content, ensure_ascii=False))
    except OSError as exc:
        if warn is not None:
            warn(f"cannot write the validation cache {path}: {exc.strerror or exc}; "
                 "the next run validates these files again")
