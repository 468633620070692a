"""The validation cache's stat memo: a file whose size and mtime are the recorded ones is not read
again; anything else (a touch, an edit, a file written in the same clock tick as the record, a
damaged record) is read and hashed, and content hashes decide the outcome."""

import builtins
import io
import json
import os
import re
import time

import pytest

from kg import incremental, validation_cache
from kg.incremental import Outcome, Progress, validate_changed
from tests.test_incremental import comparable, copy_library, study_files

HOUR_AGO = time.time_ns() - 3600 * 10**9


@pytest.fixture
def library(tmp_path):
    """A copy of the curated files, last written an hour ago as an unchanged library's are."""
    files = copy_library(tmp_path)
    for path in files:
        os.utime(path, ns=(HOUR_AGO, HOUR_AGO))
    return files


@pytest.fixture
def opened(monkeypatch):
    """The real paths of the files opened from now on."""
    seen = []
    real_open = io.open

    def recording_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            seen.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(builtins, "open", recording_open)
    return seen


def data_read(opened, files):
    """The files among `files` read since the last call (in order, once each)."""
    wanted = {os.path.realpath(f): f for f in files}
    found = list(dict.fromkeys(wanted[p] for p in opened if p in wanted))
    opened.clear()
    return found


def check(which, files, cache):
    """(what the check says, the study files it validated again): last_outcome's Outcome (None when
    something changed), or validate_changed's report's."""
    if which == "last_outcome":
        return incremental.last_outcome(files, cache), []
    progress = Progress()
    return Outcome.of(validate_changed(files, cache_dir=cache, progress=progress)), progress.validated


def record_files(cache):
    return sorted(cache.glob("validate-*.json"))


CHECKS = ["last_outcome", "validate_changed"]


@pytest.mark.parametrize("which", CHECKS)
def test_nothing_changed_reads_no_data_file(library, tmp_path, opened, which):
    cache = tmp_path / "cache"
    report = validate_changed(library, cache_dir=cache)
    assert data_read(opened, library) == library  # the first run reads them all
    for _ in range(2):
        said, validated = check(which, library, cache)
        assert said == Outcome.of(report) and validated == []
        assert data_read(opened, library) == []
    assert comparable(validate_changed(library, cache_dir=cache)) == comparable(report)


@pytest.mark.parametrize("which", CHECKS)
def test_a_touched_file_is_read_once_and_the_outcome_stands(library, tmp_path, opened, which):
    cache = tmp_path / "cache"
    report = validate_changed(library, cache_dir=cache)
    data_read(opened, library)
    target = study_files(library)[0]
    os.utime(target, ns=(HOUR_AGO + 10**9, HOUR_AGO + 10**9))  # same bytes, another mtime
    said, validated = check(which, library, cache)
    assert said == Outcome.of(report) and validated == []
    assert data_read(opened, library) == [target]
    # Its new stats are recorded: the next check reads nothing.
    assert check(which, library, cache)[0] == Outcome.of(report)
    assert data_read(opened, library) == []


def registered(files):
    """The study files that give a registry id."""
    return [f for f in study_files(files) if 'msc:registryId "' in f.read_text(encoding="utf-8")]


def same_size_edit(path):
    """Break the study's registry id with as many bytes: a violation only its content shows."""
    text = path.read_text(encoding="utf-8")
    edited = re.sub(r'(msc:registryId ")(.)', lambda m: m[1] + ("#" if m[2] != "#" else "%"), text, count=1)
    assert edited != text and len(edited.encode()) == len(text.encode())
    path.write_text(edited, encoding="utf-8")


@pytest.mark.parametrize("which", CHECKS)
def test_an_edit_that_keeps_the_size_is_found(library, tmp_path, which):
    cache = tmp_path / "cache"
    report = validate_changed(library, cache_dir=cache)
    target = registered(library)[1]
    same_size_edit(target)
    os.utime(target, ns=(HOUR_AGO + 5 * 10**9, HOUR_AGO + 5 * 10**9))
    said, validated = check(which, library, cache)
    if which == "last_outcome":
        assert said is None
    else:
        assert validated == [target] and said != Outcome.of(report)


@pytest.mark.parametrize("which", CHECKS)
@pytest.mark.parametrize("written", ["in the record's clock tick", "long before the record"])
def test_an_edit_with_the_recorded_size_and_mtime(library, tmp_path, which, written):
    """Is found when the recorded mtime is too close to the record to tell (racily clean), and is
    trusted otherwise: the one case decision 0010 accepts (someone resetting mtime and size by hand)."""
    target = registered(library)[2]
    if written == "in the record's clock tick":
        now = time.time_ns()
        os.utime(target, ns=(now, now))
    cache = tmp_path / "cache"
    report = validate_changed(library, cache_dir=cache)
    recorded = target.stat().st_mtime_ns
    same_size_edit(target)
    os.utime(target, ns=(recorded, recorded))
    said, validated = check(which, library, cache)
    if written == "long before the record":
        assert said == Outcome.of(report) and validated == []
    elif which == "last_outcome":
        assert said is None
    else:
        assert validated == [target] and said != Outcome.of(report)


DAMAGES = {
    "stats_taken not a number": lambda record: {**record, "stats_taken": "an hour ago"},
    "stats_taken missing": lambda record: {k: v for k, v in record.items() if k != "stats_taken"},
    "mtime a string": lambda record: {**record, "files": {
        k: {**v, "mtime_ns": str(v["mtime_ns"])} for k, v in record["files"].items()}},
    "size missing": lambda record: {**record, "files": {
        k: {n: x for n, x in v.items() if n != "size"} for k, v in record["files"].items()}},
    "size a boolean": lambda record: {**record, "files": {
        k: {**v, "size": True} for k, v in record["files"].items()}},
    "mtime null": lambda record: {**record, "files": {
        k: {**v, "mtime_ns": None} for k, v in record["files"].items()}},
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("which", CHECKS)
def test_a_damaged_stats_record_means_hashing_every_file(library, tmp_path, opened, damage, which):
    cache = tmp_path / "cache"
    report = validate_changed(library, cache_dir=cache)
    for path in record_files(cache):
        record = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(DAMAGES[damage](record)), encoding="utf-8")
    data_read(opened, library)
    said, validated = check(which, library, cache)
    assert said == Outcome.of(report) and validated == []
    assert sorted(data_read(opened, library)) == sorted(library)


def test_the_stats_are_taken_before_the_file_is_read(library, tmp_path, monkeypatch):
    """A file written between its stat and its read is recorded with the stat of before: the next
    check sees a stat that differs and reads it, never trusting the hash of what it read."""
    target = study_files(library)[0]
    cache = tmp_path / "cache"
    keys = validation_cache.resolved(library)
    before = {keys[p]: p.stat().st_mtime_ns for p in library}
    found = validation_cache.file_hashes(library, keys)
    assert {k: v["mtime_ns"] for k, v in found.stats.items()} == before
    assert found.read == library and found.taken < time.time_ns()
    validate_changed(library, cache_dir=cache)
    real_read_bytes = type(target).read_bytes

    def written_meanwhile(path):
        if path == target:
            os.utime(target, ns=(HOUR_AGO + 7 * 10**9, HOUR_AGO + 7 * 10**9))
        return real_read_bytes(path)

    os.utime(target, ns=(HOUR_AGO + 3 * 10**9, HOUR_AGO + 3 * 10**9))
    monkeypatch.setattr(type(target), "read_bytes", written_meanwhile)
    assert incremental.last_outcome(library, cache) is not None  # reads the touched file
    monkeypatch.undo()
    record = json.loads(validation_cache.last_file(record_files(cache)[0]).read_text(encoding="utf-8"))
    assert record["files"][keys[target]]["mtime_ns"] == HOUR_AGO + 3 * 10**9
