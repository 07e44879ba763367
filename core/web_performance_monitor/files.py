"""Files and folders the monitor keeps on a shared host: its own, private, never via a symlink.

Another local user must not be able to plant the alert store (a trigger that drops every
insert silences all alerts), point a symlink where the monitor writes, or read what it wrote
(issue 14). So the default folder is per user (``config.default_output_dir``), created 0700,
and every file the monitor creates is opened with ``O_NOFOLLOW``, owned by this process's user
and at most 0640; anything else is refused with ``UnsafePath``, never used.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import TYPE_CHECKING

from .config import default_output_dir
from .log import logger

if TYPE_CHECKING:
    from .config import Config

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePath(PermissionError):
    """A path another user could control (their file or folder, a symlink): refused."""


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def _check_owner(path: str, info: os.stat_result) -> None:
    uid = _uid()
    if uid >= 0 and info.st_uid != uid:
        raise UnsafePath(f"{path} belongs to uid {info.st_uid}, not to this process's user "
                         f"(uid {uid}): refused")


def private_dir(path: str) -> None:
    """Create ``path`` (0700) if missing; refuse another user's folder, or a symlink to one.

    A folder of ours that others may write to is tightened to 0700.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    link = os.lstat(path)
    if stat.S_ISLNK(link.st_mode):
        _check_owner(path, link)
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"{path} is not a folder: refused")
    _check_owner(path, info)
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def check_folder(path: str) -> None:
    """Refuse a folder (or a symlink to one) that another user owns; root's are fine.

    A folder the user chose (``/var/log/app``, root's and group-writable, or the sticky
    ``/tmp``) is trusted when it is theirs or root's; one another user created first is not.
    """
    for info in (os.lstat(path), os.stat(path)):
        if info.st_uid != 0:
            _check_owner(path, info)


def private_file(path: str) -> int:
    """Create ``path`` (0600) if missing, never through a symlink; its inode.

    Refuses a symlink, anything but a regular file, and another user's file. A file of ours
    that others may write or read is tightened to 0600.

    A file that exists is inspected by path, never opened: closing a descriptor drops every
    POSIX lock this process holds on the file, SQLite's included, and a SQLite connection of
    this process that lost its lock lets another process take the file for its last user,
    which deletes the WAL index under it (that connection then reads a stale copy for good).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:  # O_EXCL: also for a symlink, dangling or not
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafePath(f"{path} is a symlink: refused") from None
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(f"{path} is not a regular file: refused") from None
        _check_owner(path, info)
        if info.st_mode & 0o137:  # beyond rw-r-----
            os.chmod(path, 0o600)
        return info.st_ino
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


def check_existing(path: str) -> None:
    """Refuse ``path`` if it exists as a symlink or another user's file (SQLite's -wal/-shm)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise UnsafePath(f"{path} is not a regular file: refused")
    _check_owner(path, info)


def resolve_paths(config: Config) -> Config:
    """``config`` with its folder and SQLite store path absolute, and the default folder private.

    Resolved once, at start-up: a later ``os.chdir`` by the application moves nothing. When the
    default per-user folder cannot be made private (``/tmp/wpm-<uid>`` planted by another
    user), or a chosen folder belongs to another user, a fresh private temporary folder is used
    instead, with a warning.
    """
    folder = os.path.abspath(config.local_output_dir)
    changes: dict[str, str] = {}
    try:
        if folder == os.path.abspath(default_output_dir()):
            private_dir(folder)
        elif os.path.lexists(folder):
            check_folder(folder)
    except OSError as exc:
        fresh = tempfile.mkdtemp(prefix=f"wpm-{_uid()}-")
        logger.warning("web_performance_monitor: the folder %s is unsafe (%s); using %s "
                       "instead", folder, exc, fresh)
        folder = fresh
    if folder != config.local_output_dir:
        changes["local_output_dir"] = folder
    url = config.alert_store_url
    if url is not None and url.lower().startswith("sqlite://"):
        path = url.split("://", 1)[1]
        if path and not os.path.isabs(path):
            changes["alert_store_url"] = "sqlite://" + os.path.abspath(path)
    return config.replace(**changes) if changes else config
