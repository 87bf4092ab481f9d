"""The system calls a sandboxed transform may make: an allowlist, modelled on Docker's default.

Everything not listed fails with EPERM. The list is what Python, NumPy, pandas and pyarrow were
seen to need (strace of the child over a real transform), plus the ordinary file, time, signal
and socket calls (the network namespace is empty), plus what ``setpriv`` needs to drop root. Left
out on purpose: namespaces (unshare, setns; clone only without CLONE_NEW* flags, clone3 answers
ENOSYS so glibc falls back to clone), io_uring, the mount API old and new, userfaultfd, bpf,
ptrace and process_vm_*, perf_event_open, affinity changes, keyrings, memfd_create and SysV
shared memory, and shared anonymous mmap (memory that RLIMIT_DATA would not count).
"""

import errno
import os
import tempfile
from typing import Any

ALLOWED = (
    # files and descriptors
    "read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 open openat "
    "close close_range creat lseek stat fstat lstat newfstatat statx statfs fstatfs access "
    "faccessat faccessat2 readlink readlinkat getdents getdents64 getcwd chdir fchdir mkdir "
    "mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat chmod "
    "fchmod fchmodat chown fchown lchown fchownat truncate ftruncate fallocate fsync fdatasync "
    "fadvise64 umask utime utimes utimensat dup dup2 dup3 fcntl flock ioctl pipe pipe2 select "
    "pselect6 poll ppoll epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait "
    "epoll_pwait2 eventfd eventfd2 sendfile copy_file_range "
    # memory (mmap is conditional, below)
    "brk munmap mremap mprotect madvise msync mincore membarrier "
    # processes, threads, identity (setpriv drops root with the set*id calls)
    "fork vfork execve exit exit_group wait4 waitid kill tkill tgkill getpid getppid gettid "
    "getuid geteuid getgid getegid getresuid getresgid getgroups setuid setgid setreuid "
    "setregid setresuid setresgid setgroups capget capset prctl arch_prctl set_tid_address "
    "set_robust_list get_robust_list rseq futex setsid setpgid getpgid getpgrp getsid "
    "getrlimit setrlimit prlimit64 getrusage getpriority setpriority sched_yield "
    "sched_getaffinity sched_getparam sched_getscheduler sched_get_priority_max "
    "sched_get_priority_min "
    # signals and time
    "rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigsuspend rt_sigtimedwait "
    "rt_sigqueueinfo rt_tgsigqueueinfo sigaltstack pause alarm getitimer setitimer "
    "timer_create timer_settime timer_gettime timer_getoverrun timer_delete timerfd_create "
    "timerfd_settime timerfd_gettime nanosleep clock_nanosleep clock_gettime clock_getres "
    "gettimeofday time times restart_syscall "
    # system information and randomness
    "uname sysinfo getrandom "
    # sockets: allowed, but the network namespace has no interface to reach anything through
    "socket socketpair connect bind listen accept accept4 getsockname getpeername sendto "
    "recvfrom sendmsg recvmsg sendmmsg recvmmsg shutdown setsockopt getsockopt"
).split()

# Flags that would create a namespace (Docker's mask): clone is allowed only without them.
CLONE_NAMESPACE_FLAGS = 0x7E020000
MAP_SHARED, MAP_ANONYMOUS = 0x01, 0x20


def bpf_fd() -> int | None:
    """A file descriptor holding the compiled filter, or None where libseccomp is absent."""
    try:
        import pyseccomp as sc

        flt = sc.SyscallFilter(defaction=sc.ERRNO(errno.EPERM))
        for name in ALLOWED:
            try:
                flt.add_rule(sc.ALLOW, name)
            except (OSError, ValueError, RuntimeError):
                pass  # a name this architecture does not have
        flt.add_rule(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0))
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        # mmap: private mappings (counted by RLIMIT_DATA) or file-backed ones, never both
        # shared and anonymous.
        flt.add_rule(sc.ALLOW, "mmap", sc.Arg(3, sc.MASKED_EQ, MAP_SHARED, 0))
        flt.add_rule(sc.ALLOW, "mmap", sc.Arg(3, sc.MASKED_EQ, MAP_ANONYMOUS, 0))
        handle = tempfile.TemporaryFile()
        flt.export_bpf(handle)
    except (ImportError, OSError, RuntimeError, ValueError):
        return None
    handle.seek(0)
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


def docker_profile() -> dict[str, Any]:
    """The same policy as a Docker seccomp profile (``security_opt=["seccomp=<json>"]``)."""
    masked = "SCMP_CMP_MASKED_EQ"
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": list(ALLOWED), "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": masked}],
            },
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
            *(
                {
                    "names": ["mmap"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 3, "value": bit, "valueTwo": 0, "op": masked}],
                }
                for bit in (MAP_SHARED, MAP_ANONYMOUS)
            ),
        ],
    }
