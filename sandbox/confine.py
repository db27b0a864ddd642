"""The kernel's walls around one run: fresh namespaces, fresh mounts, a seccomp filter.

stdlib and ctypes only; it runs inside the sandbox next to untrusted code and
assumes the candidate has read it. Nothing here is a secret: each wall holds
because the kernel enforces it, not because the candidate cannot see it.

* `fork_fresh` forks a child that is born in its own user, pid, IPC and mount
  namespaces (pid 1 of its own), so pids start at 1 every run, no SysV or
  POSIX IPC object survives it, and its mounts vanish with it.
* `fresh_mounts` puts a new empty tmpfs on every writable area and an empty,
  read-only one on /proc: nothing of another run, of the supervisor, or of
  the candidate's own process is readable there.
* `lock_down` is the last step before the launcher runs or an interpreter is executed: no
  ambient capabilities, no new privileges, and a seccomp filter that refuses
  new processes, new executions, tracing, namespaces, mounts and the few
  calls that could close or replace the audit channel on fd 3.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_THREAD = 0x00010000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

#: The only fd `execveat` may run from: another language's interpreter, opened before the filter.
EXEC_FD = 1023
#: The audit channel: the filter refuses to close it or put another file in its place.
META_FD = 3

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_NR_OFFSET = 0
_ARCH_OFFSET = 4


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of syscall argument `index` in seccomp_data (little-endian)."""
    return 16 + 8 * index


# Per machine: audit arch, refused calls, and the calls checked by argument.
_X86_64 = {
    "arch": 0xC000003E,
    "x32_bit": 0x40000000,
    "refused": {
        "fork": 57,
        "vfork": 58,
        "execve": 59,
        "ptrace": 101,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "unshare": 272,
        "setns": 308,
        "mount": 165,
        "umount2": 166,
        "pivot_root": 155,
        "chroot": 161,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "bpf": 321,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "kexec_load": 246,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "open_by_handle_at": 304,
        "name_to_handle_at": 303,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "kcmp": 312,
        "pidfd_getfd": 438,
        "process_madvise": 440,
        "personality": 135,
        "acct": 163,
        "swapon": 167,
        "reboot": 169,
    },
    "absent": {"clone3": 435, "close_range": 436},
    "clone": 56,
    "execveat": 322,
    "close": 3,
    "dup2": 33,
    "dup3": 292,
}
_AARCH64 = {
    "arch": 0xC00000B7,
    "x32_bit": None,
    "refused": {
        "ptrace": 117,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "unshare": 97,
        "setns": 268,
        "mount": 40,
        "umount2": 39,
        "pivot_root": 41,
        "chroot": 51,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "bpf": 280,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "kexec_load": 104,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "open_by_handle_at": 265,
        "name_to_handle_at": 264,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "kcmp": 272,
        "pidfd_getfd": 438,
        "process_madvise": 440,
        "personality": 92,
        "acct": 89,
        "swapon": 224,
        "reboot": 142,
        "execve": 221,
    },
    "absent": {"clone3": 435, "close_range": 436},
    "clone": 220,
    "execveat": 281,
    "close": 57,
    "dup2": None,
    "dup3": 24,
}
_MACHINES = {"x86_64": _X86_64, "aarch64": _AARCH64}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
#: The raw syscall, called with the interpreter's lock held (as os.fork holds it across the fork).
_python = ctypes.PyDLL(None, use_errno=True)
_python.syscall.restype = ctypes.c_long
_python.syscall.argtypes = [ctypes.c_long, *[ctypes.c_ulong] * 5]
_FRESH = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS


class WallError(OSError):
    """A wall could not be raised; the run must not start."""


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise WallError(number, f"{what}: {os.strerror(number)}")


def machine_supported() -> bool:
    """Whether `lock_down` knows this machine's syscall numbers."""
    return platform.machine() in _MACHINES


def protect_self() -> None:
    """No same-uid process may read this one's memory or /proc entries, nor trace it."""
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def die_with_parent(signal_number: int) -> None:
    """The kernel sends `signal_number` to this process when its parent dies."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def fork_fresh() -> int:
    """`os.fork`, the child born in new user, pid, IPC and mount namespaces: pid 1 of its own.

    One clone instead of a fork, an unshare and a second fork: the process that would only
    have unshared and waited cost a copy of the interpreter's page tables and its teardown,
    about a sixth of a run's CPU (`bench/run_cost.py`). Python's own fork bookkeeping runs
    around the clone, as it does around os.fork's. The child's first step is `map_own_ids`.

    Raises:
        WallError: the kernel refused the namespaces, or the machine's syscall table is unknown.
    """
    table = _MACHINES.get(platform.machine())
    if table is None:
        raise WallError(errno.ENOSYS, f"clone: no syscall table for {platform.machine()}")
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = _python.syscall(int(table["clone"]), _FRESH | signal.SIGCHLD, 0, 0, 0, 0)  # type: ignore[call-overload]
    if pid != 0:
        number = ctypes.get_errno()
        ctypes.pythonapi.PyOS_AfterFork_Parent()
        if pid < 0:
            raise WallError(number, f"clone into new namespaces: {os.strerror(number)}")
        return int(pid)
    ctypes.pythonapi.PyOS_AfterFork_Child()
    return 0


def map_own_ids(uid: int, gid: int) -> None:
    """In a new user namespace: the uid and gid this process had outside mapped to themselves.

    Inside, before the maps exist, the process's own ids read as the overflow id: the caller
    passes what they were before the clone. It is the only mapping allowed without privilege.

    The maps are written through /proc/self, which a non-dumpable process cannot do, so the
    process is dumpable only while it writes them.
    """
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    except OSError as exc:
        raise WallError(exc.errno or errno.EIO, f"user namespace maps: {exc}") from exc
    finally:
        protect_self()


def fresh_mounts(writable: list[str], size_bytes: int) -> None:
    """In this mount namespace: a new empty tmpfs on each writable area, an empty read-only one on /proc."""
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    flags = MS_NOSUID | MS_NODEV
    for area in writable:
        if not os.path.isdir(area):
            continue
        options = f"size={size_bytes},mode=1777".encode()
        _check(_libc.mount(b"tmpfs", os.fsencode(area), b"tmpfs", flags, options), f"mount tmpfs on {area}")
    if os.path.isdir("/proc"):
        options = b"size=4096,mode=555"
        _check(
            _libc.mount(b"tmpfs", b"/proc", b"tmpfs", flags | MS_NOEXEC | MS_RDONLY, options),
            "mount empty /proc",
        )


def lock_down(processes: bool = False, channel: bool = True, interpreter: bool = True) -> None:
    """No ambient capabilities, no new privileges, and the seccomp filter.

    With `processes` (a shell, a compiler), fork and exec stay allowed; every other refusal holds.
    Without `channel` (a program that has no launcher), fd 3 is an ordinary descriptor. Without
    `interpreter` (a Python candidate, already running in the zygote's interpreter), nothing can be
    executed at all; with it, the one interpreter at EXEC_FD can.
    """
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    program = seccomp_program(platform.machine(), processes=processes, channel=channel, interpreter=interpreter)
    buffer = ctypes.create_string_buffer(program)

    class _SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


_PROCESS_CALLS = frozenset({"fork", "vfork", "execve"})


def seccomp_program(machine: str, processes: bool = False, channel: bool = True, interpreter: bool = True) -> bytes:
    """The filter as classic BPF: foreign arches die, refused calls fail with EPERM, absent ones with ENOSYS.

    With `processes`, fork, vfork, execve, execveat and clone of a new process are allowed;
    with `channel`, fd 3 (the audit channel) can be neither closed nor replaced; without
    `interpreter`, execveat is refused too, from every fd.
    """
    table = _MACHINES.get(machine)
    if table is None:
        raise WallError(errno.ENOSYS, f"no seccomp table for machine {machine!r}")
    rules: list[tuple[int, int, int, int]] = []

    def emit(code: int, jt: int, jf: int, k: int) -> None:
        rules.append((code, jt, jf, k))

    eperm = _RET_ERRNO | errno.EPERM
    enosys = _RET_ERRNO | errno.ENOSYS
    emit(_LD_W_ABS, 0, 0, _ARCH_OFFSET)
    emit(_JEQ_K, 1, 0, int(table["arch"]))  # type: ignore[call-overload]
    emit(_RET_K, 0, 0, _RET_KILL_PROCESS)
    emit(_LD_W_ABS, 0, 0, _NR_OFFSET)
    if table["x32_bit"] is not None:
        emit(_JGE_K, 0, 1, int(table["x32_bit"]))  # type: ignore[call-overload]
        emit(_RET_K, 0, 0, _RET_KILL_PROCESS)
    for name, number in table["refused"].items():  # type: ignore[attr-defined]
        if processes and name in _PROCESS_CALLS:
            continue
        emit(_JEQ_K, 0, 1, number)
        emit(_RET_K, 0, 0, eperm)
    for number in table["absent"].values():  # type: ignore[attr-defined]
        emit(_JEQ_K, 0, 1, number)
        emit(_RET_K, 0, 0, enosys)

    def by_argument(number: int | None, arg: int, test: int, value: int, verdict_if: int, verdict_else: int) -> None:
        """For syscall `number`: load an argument, and return one of two verdicts; other calls go on."""
        if number is None:
            return
        emit(_JEQ_K, 0, 4, number)
        emit(_LD_W_ABS, 0, 0, _arg_low(arg))
        emit(test, 0, 1, value)
        emit(_RET_K, 0, 0, verdict_if)
        emit(_RET_K, 0, 0, verdict_else)

    if not processes:
        # Threads only: a clone without CLONE_THREAD is a new process.
        by_argument(int(table["clone"]), 0, _JSET_K, CLONE_THREAD, _RET_ALLOW, eperm)  # type: ignore[call-overload]
        # The interpreter, once: only from the zygote's fd, which closes on exec; or nothing at all.
        by_argument(int(table["execveat"]), 0, _JEQ_K, EXEC_FD, _RET_ALLOW if interpreter else eperm, eperm)  # type: ignore[call-overload]
    if channel:
        # The audit channel stays open and stays itself.
        by_argument(int(table["close"]), 0, _JEQ_K, META_FD, eperm, _RET_ALLOW)  # type: ignore[call-overload]
        by_argument(table["dup2"], 1, _JEQ_K, META_FD, eperm, _RET_ALLOW)  # type: ignore[arg-type]
        by_argument(int(table["dup3"]), 1, _JEQ_K, META_FD, eperm, _RET_ALLOW)  # type: ignore[call-overload]
    emit(_RET_K, 0, 0, _RET_ALLOW)
    return b"".join(struct.pack("=HBBI", *rule) for rule in rules)


IN_ACCESS = 0x1
IN_CLOSE_NOWRITE = 0x10
IN_OPEN = 0x20
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
IN_Q_OVERFLOW = 0x4000
_INOTIFY_EVENT = struct.Struct("iIII")


def open_watches() -> int:
    """The session's one inotify instance, or -1 where the kernel has none.

    Closing an inotify instance waits for an RCU grace period (10 to 20 ms here), which
    would be paid by every run that had an instance of its own. So the supervisor opens one
    for its whole life; each run adds a watch on its own file and removes it, and the
    instance never closes before the session ends. Close-on-exec: no program holds it.
    """
    fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    return int(fd) if fd >= 0 else -1


def watch_opens(instance: int, path: str) -> int:
    """A watch on `instance` that sees every open of the file at `path` (from any process), or -1.

    Reads and closes are watched too, only so that two opens are never adjacent identical
    events, which inotify would merge into one.
    """
    if instance < 0:
        return -1
    watch = _libc.inotify_add_watch(instance, os.fsencode(path), IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)
    return int(watch) if watch >= 0 else -1


def count_opens(instance: int, watch: int) -> int | None:
    """How many opens the watch saw (and removes it); None when there was no watch or it overflowed.

    Events of other watches, left queued by an earlier run that was killed before it counted,
    are read and dropped: watch numbers are not reused soon, so they never count here.
    """
    if watch < 0:
        return None
    opens = 0
    try:
        while True:
            try:
                chunk = os.read(instance, 65536)
            except BlockingIOError:
                return opens
            view = 0
            while view + _INOTIFY_EVENT.size <= len(chunk):
                wd, mask, _, length = _INOTIFY_EVENT.unpack_from(chunk, view)
                if mask & IN_Q_OVERFLOW:
                    return None
                if wd == watch and mask & IN_OPEN:
                    opens += 1
                view += _INOTIFY_EVENT.size + length
    finally:
        _libc.inotify_rm_watch(instance, watch)


def remove_ipc() -> None:
    """Remove every SysV IPC object this uid can see: the fallback when a run has no IPC namespace of its own."""
    for kind, remove in (("shm", _remove_shm), ("sem", _remove_sem), ("msg", _remove_msg)):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


_IPC_RMID = 0


def _remove_shm(ident: int) -> None:
    _libc.shmctl(ident, _IPC_RMID, None)


def _remove_sem(ident: int) -> None:
    _libc.semctl(ident, 0, _IPC_RMID)


def _remove_msg(ident: int) -> None:
    _libc.msgctl(ident, _IPC_RMID, None)
