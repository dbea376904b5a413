"""All-or-nothing writing of a dataset item: stage every file under a temporary name, then rename.

An item is several files (image, mask, weights, the updated ``dataset.json``). :class:`StagedWrite` writes
each of them beside its final place under a hidden temporary name; :meth:`StagedWrite.commit` then renames
them onto their final names in one go. If a rename fails half way, the files already placed are removed
and the files they replaced are put back, so a dataset never lists (or holds) a half-written item.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from pathlib import Path

__all__ = ["StagedWrite", "friendly_os_error", "remove_path"]


def remove_path(path: Path) -> None:
    """Remove a file, a symlink or a folder tree; missing paths are ignored."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# read once at import (on the main thread): os.umask is process-wide, so it is not touched from workers
_UMASK = _read_umask()


def _default_mode(path: Path) -> None:
    """Give a temporary file/folder the permissions a normally created one would have (mkstemp uses 0600)."""
    base = 0o777 if path.is_dir() else 0o666
    os.chmod(path, base & ~_UMASK)


def friendly_os_error(exc: OSError, where, item: str | None = None) -> OSError:
    """Turn a low-level OSError while writing into one whose message says what happened and what to do."""
    what = f"item {item!r} was not written" if item else "nothing was written"
    tail = f"{what}; the items listed in dataset.json are complete."
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        new = PermissionError(exc.errno or errno.EACCES,
                              f"{where}: cannot write here (permission denied or read-only); choose another "
                              f"folder; {tail}")
    elif exc.errno == errno.ENOSPC:
        new = OSError(errno.ENOSPC, f"{where}: the disk is full; free some space and export again; {tail}")
    elif isinstance(exc, TargetExists):
        new = FileExistsError(exc.errno, f"{where}: {exc.strerror}; {tail}")
    elif isinstance(exc, (NotADirectoryError, FileExistsError, IsADirectoryError)) or exc.errno in (
            errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        new = OSError(exc.errno, f"{where}: a file or folder is in the way ({exc.filename}); move it or "
                                 f"choose another folder; {tail}")
    else:
        new = OSError(exc.errno, f"{where}: could not write ({exc.strerror or exc}); {tail}")
    new.__cause__ = exc
    return new


class TargetExists(FileExistsError):
    """A path the export would replace is not the export's to replace."""


def _check_target(final: Path, replace: bool, is_dir: bool) -> None:
    if not (final.exists() or final.is_symlink()):
        return
    if final.is_dir() != is_dir:
        kind = "folder" if final.is_dir() else "file"
        raise TargetExists(errno.EEXIST,
                           f"a {kind} is in the way ({final}); move it or choose another folder")
    if not replace:
        raise TargetExists(errno.EEXIST, f"{final} exists already and is not listed in dataset.json; move it "
                                         "away or allow overwriting")


class StagedWrite:
    """Collect temporary files/folders for one item and move them into place together.

    ``replace`` says whether existing files may be replaced (the export's ``overwrite``).
    Use as a context manager: leaving the block with an exception (or without :meth:`commit`) deletes
    every temporary path, so nothing is left behind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with StagedWrite() as stage:
    ...     stage.file(root / "a.txt").write_text("a")
    ...     stage.commit()
    1
    >>> (root / "a.txt").read_text()
    'a'
    """

    def __init__(self, replace: bool = False):
        self.replace = replace
        self._staged: list[tuple[Path, Path, bool, bool]] = []
        self._removals: list[Path] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False

    @staticmethod
    def _parent(final: Path) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.parent

    def file(self, final, replace: bool | None = None) -> Path:
        """Return a temporary file path that :meth:`commit` renames onto ``final``.

        An existing ``final`` is only replaced when ``replace`` (default: the one given to the
        constructor) is true: the user allowed overwriting, or the file is the dataset's own listing.
        A folder is never replaced by a file, nor a file by a folder.
        """
        final = Path(final)
        replace = self.replace if replace is None else replace
        _check_target(final, replace, is_dir=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=self._parent(final))
        os.close(fd)
        self._staged.append((Path(tmp), final, replace, False))
        return Path(tmp)

    def folder(self, final, replace: bool | None = None) -> Path:
        """Return an empty temporary folder that :meth:`commit` renames onto ``final`` (see :meth:`file`)."""
        final = Path(final)
        replace = self.replace if replace is None else replace
        _check_target(final, replace, is_dir=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=self._parent(final)))
        self._staged.append((tmp, final, replace, True))
        return tmp

    def remove_on_commit(self, path) -> None:
        """Delete ``path`` once the commit has succeeded (an old file the new item no longer has)."""
        self._removals.append(Path(path))

    def commit(self) -> None:
        """Rename every staged path onto its final name; on failure undo what was done and re-raise."""
        aside: list[tuple[Path, Path]] = []
        placed: list[Path] = []
        try:
            for tmp, final, replace, is_dir in self._staged:
                _check_target(final, replace, is_dir)
                if final.exists() or final.is_symlink():
                    old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
                    os.replace(final, old)
                    aside.append((old, final))
                _default_mode(tmp)
                os.replace(tmp, final)
                placed.append(final)
        except BaseException:
            for final in reversed(placed):
                remove_path(final)
            for old, final in reversed(aside):
                os.rename(old, final)
            raise
        finally:
            self.discard()
        for old, _ in aside:
            remove_path(old)
        for path in self._removals:
            remove_path(path)
        self._removals = []

    def discard(self) -> None:
        """Delete every temporary path not yet moved into place."""
        for tmp, *_ in self._staged:
            remove_path(tmp)
        self._staged = []
