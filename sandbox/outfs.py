"""The output folder on its own size-capped tmpfs, so a write past the cap fails *inside*.

RLIMIT_FSIZE caps one file; the tmpfs caps the folder, whatever the sandbox writes. Mounting
needs root (as the migration and CI run); elsewhere the folder stays an ordinary directory and
the per-file rlimit, with only two pre-created files bound into the sandbox, is what holds.
The tmpfs pages are charged to the writer's memory cgroup, so output also counts as memory.
"""

import ctypes
import ctypes.util
import os
from pathlib import Path

_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MNT_DETACH = 2


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def mount_capped(folder: Path, size_bytes: int) -> bool:
    """Mount a tmpfs of ``size_bytes`` on ``folder``; False where that is not possible here."""
    if os.geteuid() != 0:
        return False
    pages = -(-size_bytes // 4096) * 4096
    opts = f"size={pages},nr_inodes=16,mode=0755".encode()
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    rc = _libc().mount(b"dbm-sandbox-out", str(folder).encode(), b"tmpfs", flags, opts)
    return rc == 0


def unmount(folder: Path) -> None:
    _libc().umount2(str(folder).encode(), _MNT_DETACH)
