#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a command under the seccomp sandbox a service unit describes.

systemd turns SystemCallFilter=, RestrictAddressFamilies=,
MemoryDenyWriteExecute= and friends into seccomp filters built with
libseccomp. This program builds the same filters from the unit file, with
the same library, loads them, drops to an unprivileged uid when the unit
asks for DynamicUser=, and runs the command, standing in for the service
manager: it listens on NOTIFY_SOCKET, sets WATCHDOG_USEC from WatchdogSec=,
and can send SIGHUP and SIGTERM the way ExecReload= and a stop do. So a
check can see the daemon start, train, reload and stop inside the sandbox
without systemd running as PID 1.

Not reproduced: the namespace settings (ProtectSystem=, PrivateTmp=,
ProtectHome=, PrivateUsers=, ...), IPAddressDeny= (a cgroup BPF program)
and everything else that needs a service manager.

Usage: unit-sandbox.py [--hup-after S] [--term-after S] [--watchdog-sec S]
                       [--timeout S] UNIT COMMAND [ARG]...
The --*-after times count from READY=1; --watchdog-sec replaces the unit's
WatchdogSec= so a short run sees WATCHDOG=1. Output, one line each on stdout:
  sandbox uid=N gid=N filters=NAME,...   what was applied
  started PID                            the command's (the main) pid
  notify PID LINE                        one line a process sent, and its pid
  signal NAME                            a signal this program sent
  exit STATUS | killed SIGNAL | timeout  how the command ended
Exit status: 0 when the command was run (whatever it did), 2 on misuse or
when the sandbox cannot be built.
"""

import argparse
import ctypes
import ctypes.util
import errno
import os
import pwd
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_EQ, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ = 1, 2, 4, 6, 7

PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
SCHED_IDLE = 5
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000,
                   0x10000000, 0x20000000, 0x40000000, 0x00000080)
DYNAMIC_UID_FIRST, DYNAMIC_UID_LAST = 61184, 65519

# Directives that systemd enforces with a deny list of its own, and what it
# denies (all with EPERM).
IMPLIED_DENY = {
    "ProtectClock": ["@clock"],
    "ProtectKernelModules": ["@module"],
    "ProtectKernelLogs": ["syslog"],
    "PrivateDevices": ["@raw-io"],
    "ProtectHostname": ["sethostname", "setdomainname"],
}


def act_errno(code):
    return 0x00050000 | (code & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class Seccomp:
    """The few libseccomp calls the filters need."""

    def __init__(self):
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        self.lib = ctypes.CDLL(name, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
            ctypes.POINTER(ArgCmp)]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.lib.seccomp_release.argtypes = [ctypes.c_void_p]

    def nr(self, name):
        """The native number of a system call, or None when this arch has none."""
        n = self.lib.seccomp_syscall_resolve_name(name.encode())
        return n if n >= 0 else None

    def load(self, default, rules):
        """Load one filter: rules are (action, syscall name, [(arg, op, a, b)])."""
        ctx = self.lib.seccomp_init(default)
        if not ctx:
            raise OSError("seccomp_init failed")
        try:
            for action, name, cmps in rules:
                n = self.nr(name)
                if n is None:
                    continue
                arr = (ArgCmp * max(1, len(cmps)))(*[ArgCmp(*c) for c in cmps])
                r = self.lib.seccomp_rule_add_array(ctx, action, n, len(cmps), arr)
                if r < 0:
                    raise OSError(-r, "seccomp rule for %s: %s" % (name, os.strerror(-r)))
            r = self.lib.seccomp_load(ctx)
            if r < 0:
                raise OSError(-r, "seccomp_load: " + os.strerror(-r))
        finally:
            self.lib.seccomp_release(ctx)


def read_unit(path):
    """The [Service] assignments of a unit, in order, as (key, value)."""
    out, section, pending = [], None, ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = pending + raw.strip()
            pending = ""
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Service" and "=" in line:
                key, value = line.split("=", 1)
                out.append((key.strip(), value.strip()))
    return out


def last(unit, key, default=None):
    values = [v for k, v in unit if k == key]
    return values[-1] if values else default


def yes(unit, key):
    return (last(unit, key, "no") or "no").lower() in ("yes", "true", "on", "1")


def syscall_groups():
    """Each @group systemd-analyze knows, with its members (names or @groups)."""
    text = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                          capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in text.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith(" ") and current is not None:
            word = line.strip()
            if word and not word.startswith("#"):
                current.append(word)
        elif not line.startswith(" "):
            current = None
    return groups


def expand(words, groups, seen=None):
    """System call names of a list of names and @groups."""
    seen = set() if seen is None else seen
    names = set()
    for word in words:
        word = word.split(":", 1)[0]
        if word.startswith("@"):
            if word in seen:
                continue
            if word not in groups:
                raise ValueError("unknown system call group " + word)
            seen.add(word)
            names |= expand(groups[word], groups, seen)
        elif word:
            names.add(word)
    return names


def syscall_filter(unit, groups):
    """(allow list?, names) from the SystemCallFilter= lines, as systemd reads them."""
    allow, names = None, set()
    for key, value in unit:
        if key != "SystemCallFilter":
            continue
        if not value:
            allow, names = None, set()
            continue
        invert = value.startswith("~")
        words = expand(value.lstrip("~").split(), groups)
        if allow is None:
            allow = not invert
            if allow:
                names |= expand(["@default"], groups)
        if invert == (not allow):
            names |= words
        else:
            names -= words
    return allow, names


def family_rules(unit):
    """socket() rules for RestrictAddressFamilies=, as systemd builds them."""
    value = last(unit, "RestrictAddressFamilies")
    if not value or value == "none":
        return []
    deny = value.startswith("~")
    fams = sorted(int(getattr(socket, name)) for name in value.lstrip("~").split())
    act = act_errno(errno.EAFNOSUPPORT)
    if deny:
        return [(act, "socket", [(0, SCMP_CMP_EQ, f, 0)]) for f in fams]
    rules = [(act, "socket", [(0, SCMP_CMP_LT, fams[0], 0)]),
             (act, "socket", [(0, SCMP_CMP_GT, fams[-1], 0)])]
    for f in range(fams[0] + 1, fams[-1]):
        if f not in fams:
            rules.append((act, "socket", [(0, SCMP_CMP_EQ, f, 0)]))
    return rules


def build_filters(unit, groups):
    """Every filter the unit asks for, as (name, default action, rules)."""
    filters = []
    for key, words in IMPLIED_DENY.items():
        if yes(unit, key):
            filters.append((key, SCMP_ACT_ALLOW,
                            [(act_errno(errno.EPERM), n, [])
                             for n in sorted(expand(words, groups))]))
    rules = family_rules(unit)
    if rules:
        filters.append(("RestrictAddressFamilies", SCMP_ACT_ALLOW, rules))
    eperm = act_errno(errno.EPERM)
    if yes(unit, "MemoryDenyWriteExecute"):
        wx = PROT_WRITE | PROT_EXEC
        filters.append(("MemoryDenyWriteExecute", SCMP_ACT_ALLOW, [
            (eperm, "mmap", [(2, SCMP_CMP_MASKED_EQ, wx, wx)]),
            (eperm, "mprotect", [(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
            (eperm, "pkey_mprotect", [(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
            (eperm, "shmat", [(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)])]))
    if yes(unit, "RestrictRealtime"):
        # Only SCHED_OTHER (0), SCHED_BATCH (3) and SCHED_IDLE (5) pass.
        filters.append(("RestrictRealtime", SCMP_ACT_ALLOW, [
            (eperm, "sched_setscheduler", [(1, SCMP_CMP_EQ, p, 0)]) for p in (1, 2, 4)
        ] + [(eperm, "sched_setscheduler", [(1, SCMP_CMP_GT, SCHED_IDLE, 0)])]))
    if yes(unit, "LockPersonality"):
        libc = ctypes.CDLL(None)
        libc.personality.argtypes = [ctypes.c_ulong]
        current = libc.personality(0xFFFFFFFF)
        filters.append(("LockPersonality", SCMP_ACT_ALLOW, [
            (eperm, "personality", [(0, SCMP_CMP_NE, current, 0)])]))
    if yes(unit, "RestrictNamespaces"):
        # clone3() hides its flags in memory; systemd answers ENOSYS so the
        # C library falls back to clone(), whose flags a filter can see.
        rules = [(act_errno(errno.ENOSYS), "clone3", [])]
        for flag in NAMESPACE_FLAGS:
            rules += [(eperm, "unshare", [(0, SCMP_CMP_MASKED_EQ, flag, flag)]),
                      (eperm, "clone", [(0, SCMP_CMP_MASKED_EQ, flag, flag)]),
                      (eperm, "setns", [(1, SCMP_CMP_MASKED_EQ, flag, flag)])]
        rules.append((eperm, "setns", [(1, SCMP_CMP_EQ, 0, 0)]))
        filters.append(("RestrictNamespaces", SCMP_ACT_ALLOW, rules))
    # Last, as systemd does: an allow list would refuse seccomp() and prctl()
    # to the filters loaded after it.
    code = last(unit, "SystemCallErrorNumber")
    refuse = act_errno(getattr(errno, code)) if code else SCMP_ACT_KILL_PROCESS
    allow, names = syscall_filter(unit, groups)
    if allow is True:
        filters.append(("SystemCallFilter", refuse,
                        [(SCMP_ACT_ALLOW, n, []) for n in sorted(names)]))
    elif allow is False:
        filters.append(("SystemCallFilter", SCMP_ACT_ALLOW,
                        [(refuse, n, []) for n in sorted(names)]))
    return filters


def pick_dynamic_uid():
    """A uid from systemd's DynamicUser= range that no account uses."""
    for uid in range(DYNAMIC_UID_FIRST, DYNAMIC_UID_LAST + 1):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    raise OSError("no free uid in the DynamicUser= range")


def seconds(text):
    """A systemd time span such as 30s, 2min or 1min 30s, in seconds."""
    scale = {"": 1, "s": 1, "sec": 1, "ms": 1e-3, "msec": 1e-3, "us": 1e-6,
             "usec": 1e-6, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    parts = re.findall(r"([0-9.]+)\s*([a-z]*)", text)
    if not parts or any(unit not in scale for _, unit in parts):
        raise ValueError("cannot read the time span " + text)
    return sum(float(num) * scale[unit] for num, unit in parts)


def child(args, filters, uid, env):
    """In the forked child: enter the sandbox and exec; never returns."""
    try:
        os.umask(int(last(args.unit_lines, "UMask", "0022"), 8))
        libc = ctypes.CDLL(None, use_errno=True)
        if os.geteuid() == 0:
            if last(args.unit_lines, "CapabilityBoundingSet", None) == "":
                with open("/proc/sys/kernel/cap_last_cap") as f:
                    for cap in range(int(f.read()) + 1):
                        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        env["WATCHDOG_PID"] = str(os.getpid())
        sec = Seccomp()
        for _, default, rules in filters:
            sec.load(default, rules)
        os.execvpe(args.command[0], args.command, env)
    except BaseException as e:  # report whatever stopped us, then leave
        os.write(2, ("unit-sandbox: %s: %s\n" % (args.command[0], e)).encode())
    os._exit(127)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hup-after", type=float, help="send SIGHUP this long after READY=1")
    p.add_argument("--term-after", type=float, help="send SIGTERM this long after READY=1")
    p.add_argument("--watchdog-sec", type=float, help="WATCHDOG_USEC in seconds, instead of WatchdogSec=")
    p.add_argument("--timeout", type=float, default=30.0, help="kill the command after this")
    p.add_argument("unit")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if not args.command:
        p.error("no command")
    try:
        args.unit_lines = read_unit(args.unit)
        filters = build_filters(args.unit_lines, syscall_groups())
        Seccomp()
        watchdog = args.watchdog_sec
        if watchdog is None:
            watchdog = seconds(last(args.unit_lines, "WatchdogSec", "0"))
    except (OSError, ValueError, subprocess.CalledProcessError, AttributeError) as e:
        print("unit-sandbox: cannot build the sandbox: %s" % e, file=sys.stderr)
        return 2

    # DynamicUser= needs root to switch to; otherwise the command keeps our uid.
    uid = None
    if yes(args.unit_lines, "DynamicUser") and os.geteuid() == 0:
        uid = pick_dynamic_uid()
        for var, mode_key in (("RUNTIME_DIRECTORY", "RuntimeDirectoryMode"),
                              ("STATE_DIRECTORY", "StateDirectoryMode")):
            for d in filter(None, os.environ.get(var, "").split(":")):
                os.chown(d, uid, uid)
                os.chmod(d, int(last(args.unit_lines, mode_key, "0755"), 8))

    tmp = tempfile.mkdtemp(prefix="unit-sandbox.")
    try:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        path = os.path.join(tmp, "notify")
        notify.bind(path)
        os.chmod(tmp, 0o755)
        os.chmod(path, 0o777)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        if watchdog > 0:
            env["WATCHDOG_USEC"] = str(int(watchdog * 1e6))
        print("sandbox uid=%d gid=%d filters=%s" % (
            os.geteuid() if uid is None else uid, os.getegid() if uid is None else uid,
            ",".join(f[0] for f in filters)), flush=True)
        pid = os.fork()
        if pid == 0:
            notify.close()
            child(args, filters, uid, env)
        print("started %d" % pid, flush=True)
        return supervise(args, notify, pid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def receive(notify):
    """One datagram from NOTIFY_SOCKET: (sender pid, its lines)."""
    cred_size = struct.calcsize("3i")
    data, anc, _, _ = notify.recvmsg(4096, socket.CMSG_SPACE(cred_size))
    sender = "?"
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            sender = struct.unpack("3i", payload[:cred_size])[0]
    return sender, data.decode(errors="replace").splitlines()


def supervise(args, notify, pid):
    """Relay notifications, send the signals asked for, report the end."""
    start = time.monotonic()
    ready_at = None
    pending = [(t, s) for t, s in ((args.hup_after, signal.SIGHUP),
                                   (args.term_after, signal.SIGTERM)) if t is not None]
    status = None
    while status is None:
        if time.monotonic() - start > args.timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("timeout", flush=True)
            return 0
        if select.select([notify], [], [], 0.05)[0]:
            sender, lines = receive(notify)
            for line in lines:
                print("notify %s %s" % (sender, line), flush=True)
                if line == "READY=1" and ready_at is None:
                    ready_at = time.monotonic()
        if ready_at is not None:
            for t, sig in sorted(pending):
                if time.monotonic() - ready_at >= t:
                    os.kill(pid, sig)
                    print("signal " + sig.name, flush=True)
                    pending.remove((t, sig))
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    while select.select([notify], [], [], 0)[0]:
        sender, lines = receive(notify)
        for line in lines:
            print("notify %s %s" % (sender, line), flush=True)
    if os.WIFEXITED(status):
        print("exit %d" % os.WEXITSTATUS(status), flush=True)
    else:
        print("killed " + signal.Signals(os.WTERMSIG(status)).name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
