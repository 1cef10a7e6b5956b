"""Data utilities of ``keras.utils``: one-hot labels (:func:`to_categorical`), cached and
checksum-verified downloads (:func:`get_file`) and the batch-dataset base class
(:class:`PyDataset`).

Downloads land in shinsou's cache folder, ``$SHINSOU_HOME`` when that environment variable
is set and ``~/.shinsou`` otherwise (see :func:`shinsou_home`); Keras uses ``~/.keras`` the
same way. A download is written to a temporary file beside its destination, verified against
the expected hash, and only then renamed into place, so the cache never holds a partial or
corrupt file.

Example:
    >>> to_categorical([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
import urllib.parse
import warnings

import numpy

from .. import backend

_CHUNK_BYTES = 1 << 20


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels (``keras.utils.to_categorical``), as floatx.

    A trailing axis of size 1 is dropped first, as Keras does, so labels shaped ``(n, 1)``
    give ``(n, num_classes)``. ``num_classes`` defaults to ``max(x) + 1``.

    Example:
        >>> to_categorical([[1], [0]], num_classes=3)
        array([[0., 1., 0.],
               [1., 0., 0.]], dtype=float32)
    """
    labels = numpy.asarray(x)
    if labels.dtype.kind == "f":
        if not numpy.all(numpy.isfinite(labels)) or numpy.any(labels != numpy.round(labels)):
            raise ValueError(
                "to_categorical: class labels must be whole numbers; received values such as "
                f"{labels[labels != numpy.round(labels)][:3].tolist()}"
            )
    elif labels.dtype.kind not in "iub":
        raise TypeError(
            f"to_categorical: expected integer class labels; received dtype {labels.dtype}"
        )
    labels = labels.astype(numpy.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max(initial=-1)) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, numpy.integer)):
        raise TypeError(f"to_categorical: num_classes must be an integer; received {num_classes!r}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"to_categorical: labels must lie in [0, {num_classes}) for num_classes="
            f"{num_classes}; received labels from {labels.min()} to {labels.max()}"
        )
    one_hot = numpy.zeros((labels.size, num_classes), dtype=backend.floatx())
    one_hot[numpy.arange(labels.size), labels] = 1
    return one_hot.reshape(*shape, num_classes)


def shinsou_home() -> str:
    """The cache root of shinsou: ``$SHINSOU_HOME`` if set, else ``~/.shinsou``.

    Datasets live in its ``datasets`` subfolder, pretrained weights in ``models``.

    Example:
        >>> import os
        >>> saved = os.environ.pop("SHINSOU_HOME", None)
        >>> shinsou_home() == os.path.expanduser("~/.shinsou")
        True
        >>> os.environ.update({} if saved is None else {"SHINSOU_HOME": saved})
    """
    return os.path.expanduser(os.environ.get("SHINSOU_HOME") or os.path.join("~", ".shinsou"))


def _resolve_hasher(algorithm, file_hash):
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(
            f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5'; received {algorithm!r}"
        )
    if algorithm == "sha256" or (algorithm == "auto" and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()  # Keras's legacy 32-character hashes


def hash_file(fpath, algorithm="sha256", chunk_size=65535) -> str:
    """The hex digest of a file (``"sha256"`` or ``"md5"``), read in chunks.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as handle:
        ...     _ = handle.write(b"abc")
        >>> hash_file(handle.name)[:16]
        'ba7816bf8f01cfea'
    """
    hasher = hashlib.sha256() if algorithm in ("sha256", "auto") else hashlib.md5()
    with open(fpath, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535) -> bool:
    """Whether the file at ``fpath`` has the given sha256 (64 hex digits) or md5 hash.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as handle:
        ...     _ = handle.write(b"abc")
        >>> validate_file(handle.name, "900150983cd24fb0d6963f7d28e17f72")
        True
    """
    hasher = _resolve_hasher(algorithm, str(file_hash))
    with open(fpath, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == str(file_hash).lower()


def _writable_cache_dir(cache_dir):
    root = os.path.expanduser(cache_dir) if cache_dir is not None else shinsou_home()
    with contextlib.suppress(OSError):  # unwritable: os.access below picks the fallback
        os.makedirs(root, exist_ok=True)
    if os.access(root, os.W_OK):
        return root
    # A read-only home (containers, CI) must not stop a download: fall back as Keras does.
    return os.path.join(tempfile.gettempdir(), ".shinsou")


def _download(origin, target, file_hash, hash_algorithm):
    """Fetch ``origin`` into ``target`` atomically, verifying ``file_hash`` on the way."""
    import urllib.error  # imported here: urllib.request alone costs ~25 ms at import time
    import urllib.request

    folder = os.path.dirname(target)
    hasher = _resolve_hasher(hash_algorithm, file_hash) if file_hash is not None else None
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".part", dir=folder
    )
    print(f"Downloading data from {origin}")
    started = time.perf_counter()
    try:
        with os.fdopen(descriptor, "wb") as out, urllib.request.urlopen(origin, timeout=60) as src:
            for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                out.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
            size = out.tell()
            out.flush()
            os.fsync(out.fileno())
        if hasher is not None and hasher.hexdigest() != str(file_hash).lower():
            raise ValueError(
                f"get_file: the file downloaded from {origin} is incomplete or corrupted: its "
                f"{hasher.name} hash is {hasher.hexdigest()}, expected {file_hash}. Nothing "
                "was saved; try again, or check that origin and file_hash belong together."
            )
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache is for everyone
        os.replace(temporary, target)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        os.remove(temporary)
        reason = getattr(error, "reason", error)
        raise OSError(
            f"get_file: could not download {origin} ({reason}). If this machine is offline, "
            f"fetch the file elsewhere and put it at {target}"
        ) from error
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    print(f"{size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s, saved to {target}")


def _inside(folder, member_name):
    destination = os.path.realpath(os.path.join(folder, member_name))
    return os.path.commonpath([destination, os.path.realpath(folder)]) == os.path.realpath(folder)


def _extract_archive(archive_path, folder, archive_format):
    """Extract a tar or zip archive safely (no member may land outside ``folder``)."""
    import tarfile
    import zipfile

    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats or [])
    for kind in formats:
        if kind not in ("tar", "zip"):
            raise ValueError(
                f"get_file: archive_format must be 'auto', 'tar', 'zip' or None; received {kind!r}"
            )
        if kind == "tar" and tarfile.is_tarfile(archive_path):
            with tarfile.open(archive_path) as archive:
                members = archive.getmembers()
                for member in members:
                    if not _inside(folder, member.name) or member.issym() or member.islnk():
                        raise ValueError(
                            f"get_file: refusing to extract {archive_path}: member "
                            f"{member.name!r} is a link or points outside {folder}"
                        )
                # Python's "data" filter also refuses device files and absolute modes.
                safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(folder, members=members, **safety)
            return True
        if kind == "zip" and zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                for name in archive.namelist():
                    if not _inside(folder, name):
                        raise ValueError(
                            f"get_file: refusing to extract {archive_path}: member {name!r} "
                            f"points outside {folder}"
                        )
                archive.extractall(folder)
            return True
    return False


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Download a file from ``origin`` unless it is already cached; return its local path.

    The file goes to ``cache_dir/cache_subdir/fname`` (``cache_dir`` defaults to
    :func:`shinsou_home`; an absolute ``cache_subdir`` is used as it is). With
    ``file_hash`` (sha256, or md5 for 32 digits) a cached file that does not match is
    downloaded again, and a download that does not match raises ``ValueError`` and leaves
    nothing behind. With ``extract=True`` a tar or zip archive is unpacked and the folder
    it was unpacked into is returned. No network → ``OSError`` saying where to put the file.

    Example:
        >>> import os, tempfile, pathlib
        >>> source = pathlib.Path(tempfile.mkdtemp(), "hello.txt")
        >>> _ = source.write_text("hi")
        >>> path = get_file(origin=source.as_uri(), cache_dir=tempfile.mkdtemp())
        ... # doctest: +ELLIPSIS
        Downloading data from file://...
        >>> open(path).read()
        'hi'
    """
    if origin is None:
        raise ValueError("get_file: origin (the URL of the file to download) is required")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if file_hash is not None:
        _resolve_hasher(hash_algorithm, str(file_hash))  # reject a bad algorithm before fetching
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"get_file: cannot take a file name from origin {origin!r}; pass fname"
            )
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(
            f"get_file: fname must be a file name, not a path; received fname={fname!r}. "
            "Choose the folder with cache_dir (and cache_subdir)."
        )
    folder = os.path.join(_writable_cache_dir(cache_dir), cache_subdir)
    os.makedirs(folder, exist_ok=True)

    extract = extract or untar
    if extract:
        stem = fname.split(".", 1)[0]
        has_suffix = "." in fname
        target = os.path.join(folder, fname if has_suffix else f"{fname}_archive")
        extraction_dir = os.path.join(folder, f"{stem}_extracted" if has_suffix else fname)
    else:
        target = os.path.join(folder, fname)

    fetch = force_download or not os.path.exists(target)
    if not fetch and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"The cached {target} does not match its expected hash; downloading it again.")
        fetch = True
    if fetch:
        _download(origin, target, file_hash, hash_algorithm)

    if not extract:
        return target
    if fetch or not os.path.isdir(extraction_dir):
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(extraction_dir)}.", dir=folder)
        try:
            extracted = _extract_archive(target, staging, "tar" if untar else archive_format)
            if not extracted:
                warnings.warn(
                    f"get_file: {target} is not a tar or zip archive; nothing was extracted",
                    stacklevel=2,
                )
                return extraction_dir
            shutil.rmtree(extraction_dir, ignore_errors=True)
            os.replace(staging, extraction_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return extraction_dir


class PyDataset:
    """Base class for datasets that produce whole batches (``keras.utils.PyDataset``).

    Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__`` (the number of
    batches per epoch) and ``__getitem__(index)`` (batch ``index`` as ``x``, ``(x, y)`` or
    ``(x, y, sample_weight)``); optionally ``on_epoch_begin``/``on_epoch_end``, which
    ``fit`` calls around each epoch (to reshuffle, say).

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted and kept so
    Keras code runs unchanged, but shinsou fetches batches in order in the training thread:
    NumPy already spreads the heavy work over the cores, and a worker pool would only add
    copies.

    Example:
        >>> import numpy as np
        >>> class Squares(PyDataset):
        ...     def __init__(self, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x = np.arange(10, dtype="float32")
        ...         self.batch_size = batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         x = self.x[index * self.batch_size:(index + 1) * self.batch_size]
        ...         return x, x ** 2
        >>> data = Squares(4, workers=2)
        >>> len(data), data[2][1].tolist(), data.workers
        (3, [64.0, 81.0], 2)
    """

    # Class-level defaults keep subclasses that forget super().__init__() working.
    workers = 1
    use_multiprocessing = False
    max_queue_size = 10

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for argument, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"PyDataset: {argument} must be a non-negative integer; received {value!r}"
                )
        self.workers = workers
        self.use_multiprocessing = bool(use_multiprocessing)
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        """Batch number ``index``; subclasses must define it."""
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(self, index) returning one batch"
        )

    @property
    def num_batches(self):
        """The number of batches per epoch: ``len(self)`` (Keras 3's name for it)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ (the number of batches per epoch)"
        )

    def on_epoch_begin(self):
        """Called by ``fit`` at the start of every epoch; does nothing by default."""

    def on_epoch_end(self):
        """Called by ``fit`` at the end of every epoch (reshuffle here); nothing by default."""


Sequence = PyDataset  # Keras 3 keeps the old name ``keras.utils.Sequence`` as an alias
