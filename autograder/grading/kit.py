"""A pristine copy of the course kit for every graded notebook, and proof it stayed pristine.

The kit (``paths.KIT_PARTS``: ``course/`` and the kernel side of ``autograder/``)
is what the hidden tests trust: the recording of a run, the checks. Nothing else
of the grader is in it, so a notebook cannot import the grader's host code. In the
sandbox the kit is mounted read-only; without one (``--no-sandbox``, nbgrader's own
commands) a learner's code could rewrite those files to fake a pass, for itself or
for the students graded after it. So each notebook's kernel imports a private copy
put first on its path; the copy is hashed after the run (a change fails that
notebook and nobody else), and the repo's own kit is hashed before and after a batch.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import hashlib
import os
import shutil
from pathlib import Path

from autograder.paths import KIT_IGNORE, KIT_PARTS, ROOT


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in KIT_IGNORE)


BYTECODE = "__pycache__"


def manifest(base: Path, packages: tuple[str, ...] = KIT_PARTS, *, bytecode: bool = False) -> dict[str, str]:
    """{relative path: sha256} of every kit file under ``base`` (byte-exact).

    ``bytecode``: also the ``__pycache__`` files, for a snapshot, whose bytecode ``snapshot``
    wrote itself; a working copy's (the repo's) come and go with every import, so they are left out.
    """
    result: dict[str, str] = {}
    for package in packages:
        top = base / package
        if top.is_file():
            result[top.relative_to(base).as_posix()] = _digest(top)
            pyc = Path(importlib.util.cache_from_source(str(top)))
            if bytecode and pyc.is_file():  # a single module's .pyc sits in its folder's __pycache__
                result[pyc.relative_to(base).as_posix()] = _digest(pyc)
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not _ignored(d) or (bytecode and d == BYTECODE))
            for filename in sorted(filenames):
                if _ignored(filename) and not (bytecode and os.path.basename(dirpath) == BYTECODE):
                    continue
                path = Path(dirpath) / filename
                result[path.relative_to(base).as_posix()] = _digest(path)
    return result


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed, one plain phrase per file."""
    changes = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            changes.append(f"{rel} was deleted")
        elif rel not in before:
            changes.append(f"{rel} was added")
        elif before[rel] != after[rel]:
            changes.append(f"{rel} was changed")
    return changes


def snapshot(dest: Path, source_root: Path = ROOT) -> dict[str, str]:
    """Copy the kit from ``source_root`` into ``dest`` with its bytecode; return its manifest."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for part in KIT_PARTS:
        src = source_root / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns(*KIT_IGNORE))
        elif src.is_file():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    compile_bytecode(dest)
    return manifest(dest, bytecode=True)


def compile_bytecode(dest: Path) -> None:
    """A checked-hash .pyc beside every module of the snapshot, made by the grader before any learner code.

    Kernels read the kit read-only, so without these every kernel compiled the kit afresh on import
    (0.03 s of CPU per notebook), and the guard before each graded test cell compiled every guarded
    file again (most of its 0.03 s, six times a notebook). Checked-hash: Python, and the guard
    (autograder/checks/kit_integrity.py), use a .pyc only when it was made from the very bytes of
    its source beside it, wherever the kit is unpacked; a stale or foreign .pyc is ignored.
    """
    import py_compile

    for path in sorted(dest.rglob("*.py")):
        py_compile.compile(str(path), doraise=False, quiet=2,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


def private_copy(pristine: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(pristine, dest)



def load(base: Path) -> dict[str, bytes]:
    """The kit's files in memory: a worker writes each private copy from these, never from disk,
    so code that rewrites the snapshot on disk cannot reach the next notebook."""
    files = {}
    for rel in manifest(base, bytecode=True):
        files[rel] = (base / rel).read_bytes()
    return files


def write(files: dict[str, bytes], dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def manifest_of(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
