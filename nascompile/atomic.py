"""Atomic writes: a reader sees the old file or the new one, never half of either.

Temporaries are named ``.<name>.<pid>.<random>.tmp`` (folders ``.<name>.<pid>.<random>.tmpdir``)
beside their target, so that :func:`clean_stale` can remove those of a process that died (a
``kill -9`` in the middle of a write) the next time a command starts in that folder, and never
one that a live process is still writing.

:func:`directory` replaces a whole folder: where the system can exchange two names atomically
(Linux ``renameat2(RENAME_EXCHANGE)``), the old folder is swapped out in one step, so the path
always holds either the old or the new folder. Elsewhere it is two renames, and a process killed
between them leaves the old folder as ``.<name>.old.<pid>.tmpdir``, which :func:`clean_stale`
(and the next :func:`directory` on that path) puts back.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["write_bytes", "write_text", "write_json", "directory", "clean_stale", "restore_interrupted"]

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.(?P<kind>tmp|tmpdir)$")
_OLD = re.compile(r"^\.(?P<name>.+)\.old\.(?P<pid>\d+)\.tmpdir$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename
    (first removing what dead processes left of earlier writes of ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its files alone
    return True


def clean_stale(folder, name: str | None = None) -> list[str]:
    """Remove the temporaries that dead processes left in ``folder`` (not recursively; only
    those of target ``name`` when given) and put back a folder that an interrupted
    :func:`directory` had moved aside; returns the names removed or restored. Files of live
    processes and anything not named like a temporary of this module are never touched."""
    folder = Path(folder)
    done: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return done
    for entry in entries:
        if name is not None and not entry.name.startswith(f".{name}."):
            continue
        old = _OLD.match(entry.name)
        if old and not _alive(int(old["pid"])):
            target = folder / old["name"]
            try:
                if not target.exists() and not target.is_symlink():
                    os.replace(entry.path, target)  # the interrupted replacement: the old folder back
                else:
                    shutil.rmtree(entry.path, ignore_errors=True)
                done.append(entry.name)
            except OSError:
                pass
            continue
        temp = _TEMP.match(entry.name)
        if temp is None or _alive(int(temp["pid"])):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            done.append(entry.name)
        except OSError:
            pass
    return done


def restore_interrupted(path) -> bool:
    """Put back ``path`` when an interrupted :func:`directory` left it moved aside; True when it did."""
    path = Path(path)
    if path.exists():
        return False
    return any(_OLD.match(n) and _OLD.match(n)["name"] == path.name for n in clean_stale(path.parent))


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one step; False where the system cannot."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


@contextmanager
def directory(path):
    """Yield a fresh temporary folder that replaces ``path`` as a whole when the block succeeds.

    ``path`` is never absent: it holds the old folder until the new one takes its place (see
    the module docstring). A block that raises leaves ``path`` as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    restore_interrupted(path)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(path.name), suffix=".tmpdir", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
            return
        old = None
        if path.exists() or path.is_symlink():
            old = path.parent / f".{path.name}.old.{os.getpid()}.tmpdir"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
