"""Writing files so that a crash never leaves a half-written one behind.

Everything is written to a temporary name in the destination's own folder, flushed to disk
(``fsync``), then renamed over the destination with ``os.replace`` — a single atomic step on
POSIX and Windows. If anything fails before that, the temporary is removed and the previous
file is untouched.

Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> target = os.path.join(folder, "notes.txt")
    >>> with atomic_write(target) as temporary:
    ...     with open(temporary, "w") as handle:
    ...         _ = handle.write("saved")
    >>> open(target).read(), os.listdir(folder)
    ('saved', ['notes.txt'])
"""

from __future__ import annotations

import contextlib
import os


def _check_destination(filepath, overwrite):
    folder = os.path.dirname(filepath)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {filepath}: the folder {folder} does not exist")
    if not overwrite and os.path.lexists(filepath):
        raise FileExistsError(
            f"{filepath} already exists and overwrite=False; pass overwrite=True to replace it"
        )
    return folder


def _temporary_name(folder, basename):
    # Hidden, random and created with O_EXCL, so two writers never share a temporary; the
    # 0o666 mode lets the umask give the file the permissions a plain open() would.
    while True:
        name = os.path.join(folder, f".{basename}.{os.urandom(6).hex()}.tmp")
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return name
        except FileExistsError:
            continue


def _fsync(path):
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder):
    """Make the rename itself durable; not every platform can open a folder (Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_write(filepath, overwrite=True):
    """Yield a temporary path to write; on success it atomically becomes ``filepath``.

    Raises FileExistsError when ``filepath`` exists and ``overwrite`` is False.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "kept.txt")
        >>> open(target, "w").close()
        >>> try:
        ...     with atomic_write(target, overwrite=False) as temporary:
        ...         pass
        ... except FileExistsError as error:
        ...     print(str(error).endswith("pass overwrite=True to replace it"))
        True
    """
    filepath = os.path.abspath(os.fspath(filepath))
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"cannot save to {filepath}: it is a folder")
    folder = _check_destination(filepath, overwrite)
    temporary = _temporary_name(folder, os.path.basename(filepath))
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def _remove_folder(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(dirpath, overwrite=True):
    """Yield a temporary folder to fill; on success it replaces ``dirpath``.

    The old folder is moved aside first and removed only once the new one is in place, so a
    failure at any point leaves either the old folder or the new one.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "bundle")
        >>> with atomic_folder(target) as folder:
        ...     open(os.path.join(folder, "a.txt"), "w").close()
        >>> os.listdir(target)
        ['a.txt']
    """
    dirpath = os.path.abspath(os.fspath(dirpath))
    if os.path.lexists(dirpath) and not os.path.isdir(dirpath):
        raise NotADirectoryError(f"cannot save a model folder to {dirpath}: it is a file")
    folder = _check_destination(dirpath, overwrite)
    base = os.path.basename(dirpath)
    temporary = os.path.join(folder, f".{base}.{os.urandom(6).hex()}.tmp")
    os.mkdir(temporary, 0o777)
    try:
        yield temporary
        for name in os.listdir(temporary):
            _fsync(os.path.join(temporary, name))
        previous = None
        if os.path.exists(dirpath):
            previous = os.path.join(folder, f".{base}.{os.urandom(6).hex()}.old")
            os.replace(dirpath, previous)
        try:
            os.replace(temporary, dirpath)
        except BaseException:
            if previous is not None:
                os.replace(previous, dirpath)
            raise
    except BaseException:
        _remove_folder(temporary)
        raise
    if previous is not None:
        _remove_folder(previous)
    _fsync_folder(folder)
