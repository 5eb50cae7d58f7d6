"""Keys hoso keeps in files beside Redis: the master key (seals API secrets) and the dashboard's
session key. One hex line each, mode 0600 from the moment the file exists.

A key file is written whole into a new private file (``os.open`` with ``O_CREAT | O_EXCL`` and
mode 0600, so no umask can widen it and no reader ever sees it readable by others or half
written), fsynced, then linked into place: the first of several processes creating it wins and
the others read its key.

`hoso keys rotate-master` (`rotate_master`) replaces the master key without a moment in which a
stored secret cannot be opened, and survives a crash at any point; rerun it to finish. Files:
``<master>`` (the key), ``<master>.next`` (the new key, while rotating), ``<master>.old`` (the
previous key, kept until the rotation is done), ``<master>.lock``. In order:

1. write the new key to ``.next`` (the sealing key of every process from then on: `sealing`
   reads the files at each use) — or, after a crash, take the ``.next`` already there;
2. back up the current key to ``.old``;
3. re-seal every API secret under the new key (each record compare-and-set, so a concurrent
   revocation is never lost);
4. rename ``.next`` over the master key file (atomic) and fsync the directory;
5. re-seal any record still under the old key (one sealed by a process that read the files
   before step 1), then delete ``.old``.

Processes open a record with whichever of the three files' keys sealed it (a record names its
key), rereading the files whenever they change: during a rotation every record opens everywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.store.credentials import Keyring, SealState
from gateway.store.errors import CorruptRecord
from gateway.store.sealing import MASTER_KEY_BYTES, MasterKey

TEMPORARY_PREFIX = ".tmp-"


class KeyFileError(Exception):
    """A key file that cannot be used (the message names it)."""


def read_or_create_key(path: Path, what: str, nbytes: int = MASTER_KEY_BYTES) -> bytes:
    """The key in `path`, created there (mode 0600, atomically) on first use."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            write_private_file(path, secrets.token_hex(nbytes) + "\n")
    return read_key(path, what, nbytes)


def read_key(path: Path, what: str, nbytes: int = MASTER_KEY_BYTES) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: the {what} must be one line of hex digits") from exc
    if len(key) < nbytes:
        raise KeyFileError(
            f"{path}: the {what} must hold at least {nbytes} bytes ({2 * nbytes} hex digits)"
        )
    return key


def write_private_file(
    path: Path, text: str, replace: bool = False, owner_of: Path | None = None
) -> None:
    """Writes `text` to `path`, readable by its owner only from its first byte. Without
    `replace`, FileExistsError if `path` exists (it is then left as it was). `owner_of`: the
    new file gets that file's owner and group (the services' user when root rotates a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{path.name}-{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        if owner_of is not None:
            _give_owner(fd, path, owner_of)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
        _sync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _give_owner(fd: int, path: Path, owner_of: Path) -> None:
    st = owner_of.stat()
    if (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid()):
        return
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except PermissionError as exc:
        os.close(fd)
        raise KeyFileError(
            f"{path}: cannot give it the owner of {owner_of}: run as root or as that owner"
        ) from exc


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the master key ------------------------------------------------------------------------------


class MasterKeyFiles:
    """The master key files as a `KeySource`: the key in ``.next`` seals while a rotation runs;
    every key of the three files opens; the files are read again whenever one of them changes."""

    def __init__(self, path: Path) -> None:
        self.current = path
        self.next = path.with_name(path.name + ".next")
        self.old = path.with_name(path.name + ".old")
        self.lock = path.with_name(path.name + ".lock")
        self._state: tuple[tuple[int, int, int] | None, ...] | None = None
        self._held: tuple[MasterKey, ...] = ()
        self._mutex = threading.Lock()

    def ensure(self) -> bytes:
        """The master key, created on first use."""
        return read_or_create_key(self.current, "master key")

    def sealing(self) -> MasterKey:
        if self.next.exists():
            return MasterKey.of(read_key(self.next, "new master key"))
        return MasterKey.of(read_key(self.current, "master key"))

    def held(self) -> tuple[MasterKey, ...]:
        state = tuple(_stat(p) for p in (self.next, self.current, self.old))
        with self._mutex:
            if state != self._state:
                found: list[MasterKey] = []
                for path, name in (
                    (self.next, "new master key"),
                    (self.current, "master key"),
                    (self.old, "previous master key"),
                ):
                    with contextlib.suppress(FileNotFoundError):
                        key = MasterKey.of(read_key(path, name))
                        if key not in found:
                            found.append(key)
                self._held, self._state = tuple(found), state
            return self._held

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while rotating: one rotation at a time."""
        self.current.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise KeyFileError(f"{self.lock}: another rotation is running") from exc
            yield
        finally:
            os.close(fd)

    def discard_temporaries(self) -> None:
        """Half-written files a crash left behind (never linked into place, never used)."""
        for leftover in self.current.parent.glob(f"{TEMPORARY_PREFIX}{self.current.name}*"):
            leftover.unlink(missing_ok=True)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True, slots=True)
class Rotation:
    resealed: int  # records sealed again under the new key
    broken: tuple[str, ...]  # key ids whose records open under no key (left as they are)
    resumed: bool  # a rotation a crash had interrupted was finished first


def rotate_master(files: MasterKeyFiles, keyring: Keyring) -> Rotation:
    """Replaces the master key and re-seals every API secret (the order is the module's)."""
    with files.locked():
        files.discard_temporaries()
        resumed = files.next.exists() or files.old.exists()
        resealed, broken = 0, set[str]()
        if files.old.exists() and not files.next.exists():  # crashed after step 4
            count, stray = _finish(files, keyring)
            resealed, broken = resealed + count, broken | stray
        current = read_key(files.current, "master key")
        if not files.next.exists():  # 1
            write_private_file(
                files.next,
                secrets.token_hex(MASTER_KEY_BYTES) + "\n",
                owner_of=files.current,
            )
        new = read_key(files.next, "new master key")
        if new == current:
            raise KeyFileError(f"{files.next}: holds the current master key")
        if not files.old.exists():  # 2
            write_private_file(files.old, current.hex() + "\n", owner_of=files.current)
        count, stray = _reseal_all(keyring)  # 3
        resealed, broken = resealed + count, broken | stray
        os.replace(files.next, files.current)  # 4
        _sync_directory(files.current.parent)
        count, stray = _finish(files, keyring)  # 5
        return Rotation(resealed + count, tuple(sorted(broken | stray)), resumed)


def _finish(files: MasterKeyFiles, keyring: Keyring) -> tuple[int, set[str]]:
    count, broken = _reseal_all(keyring)
    files.old.unlink(missing_ok=True)
    _sync_directory(files.current.parent)
    return count, broken


def _reseal_all(keyring: Keyring) -> tuple[int, set[str]]:
    count, broken = 0, set[str]()
    for key_id in list(keyring.key_ids()):
        try:
            count += keyring.reseal(key_id)
        except CorruptRecord:
            broken.add(key_id)
    return count, broken


def upgrade_old_records(keyring: Keyring) -> tuple[int, tuple[str, ...]]:
    """Re-seals every record of the old format under the master key (the upgrade from 0.2):
    (how many, key ids that would not open)."""
    count, broken = 0, []
    for info in keyring.listing():
        if info.seal is not SealState.OLD_FORMAT:
            continue
        try:
            count += keyring.reseal(info.key_id)
        except CorruptRecord:
            broken.append(info.key_id)
    return count, tuple(broken)
