"""A real Bacula stack for the tests: a director, two storage daemons (127.0.0.1 and 127.0.0.2) and a file daemon;
clients client1-fd (the director's own host), client2-fd (never runs) and client3-fd (its job fails)."""
from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from policycheck.kit.proc import kill_group
from policycheck.testing import free_port

BINARIES = ("bacula-dir", "bacula-sd", "bacula-fd", "bconsole", "sqlite3")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin")

DIR_NAME = "pc-dir"
ADMIN_PW = "admin-Secret-7e1f"
AUDIT_PW = "audit-Secret-9c2d"
SD_PW = "sd-Secret-51aa"
FD_PW = "fd-Secret-82bb"


def which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not which(b)]


def listening(host: str, port: int) -> bool:
    """Is something listening on host:port? Read /proc/net/tcp: a bare connect makes Bacula log a Security Alert."""
    want = f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}:{port:04X}"
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(ln.split()[1] == want and ln.split()[3] == "0A" for ln in lines)


DIR_CONF = """
Director {{
  Name = {dir_name}
  DIRport = {dir_port}
  DirAddress = 127.0.0.1
  QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = "{w}/dir"
  PidDirectory = "{w}/dir"
  Maximum Concurrent Jobs = 5
  Password = "{admin_pw}"
  Messages = Daemon
}}
Console {{
  Name = audit
  Password = "{audit_pw}"
  CommandACL = version, time, show, list, llist, .jobs, .clients, .storage, .pools, .filesets, .schedule
  JobACL = *all*
  ClientACL = *all*
  StorageACL = *all*
  ScheduleACL = *all*
  PoolACL = *all*
  FileSetACL = *all*
  CatalogACL = *all*
  WhereACL = *none*
}}
Catalog {{
  Name = MyCatalog
  dbdriver = "sqlite3"
  dbname = "bacula"
  dbuser = ""
  dbpassword = ""
}}
Messages {{
  Name = Standard
  console = all, !skipped, !saved
  append = "{w}/dir/log" = all, !skipped
  catalog = all
}}
Messages {{
  Name = Daemon
  console = all, !skipped, !saved
  append = "{w}/dir/log" = all, !skipped
}}
Schedule {{
  Name = Nightly
  Enabled = no
  Run = Full sun at 23:05
  Run = Incremental mon-sat at 23:05
}}
Schedule {{
  Name = AfterNightly
  Enabled = no
  Run = Full sun-sat at 23:10
}}
Storage {{
  Name = Local1
  Address = localhost
  SDPort = {sd1_port}
  Password = "{sd_pw}"
  Device = FileDev1
  Media Type = File1
  Maximum Concurrent Jobs = 5
}}
Storage {{
  Name = Remote2
  Address = 127.0.0.2
  SDPort = {sd2_port}
  Password = "{sd_pw}"
  Device = FileDev2
  Media Type = File2
  Maximum Concurrent Jobs = 5
}}
Pool {{
  Name = Default
  Pool Type = Backup
  Label Format = "Data-"
  Maximum Volume Jobs = 1
  Storage = Local1
  Next Pool = Offsite
}}
Pool {{
  Name = CatalogPool
  Pool Type = Backup
  Label Format = "Cat-"
  Maximum Volume Jobs = 1
  Storage = Local1
  Next Pool = Offsite
}}
Pool {{
  Name = Offsite
  Pool Type = Backup
  Label Format = "Off-"
  Maximum Volume Jobs = 1
  Storage = Remote2
}}
Client {{
  Name = client1-fd
  Address = 127.0.0.1
  FDPort = {fd_port}
  Catalog = MyCatalog
  Password = "{fd_pw}"
}}
Client {{
  Name = client2-fd
  Address = 127.0.0.3
  FDPort = {fd_port}
  Catalog = MyCatalog
  Password = "{fd_pw}"
}}
Client {{
  Name = client3-fd
  Address = 127.0.0.4
  FDPort = {fd_port}
  Catalog = MyCatalog
  Password = "{fd_pw}"
}}
FileSet {{
  Name = SmallSet
  Include {{
    Options {{ signature = MD5 }}
    File = "{w}/data"
  }}
}}
FileSet {{
  Name = Catalog
  Include {{
    Options {{ signature = MD5 }}
    File = "{w}/dir/bacula.sql"
  }}
}}
JobDefs {{
  Name = Defs
  Type = Backup
  Level = Incremental
  FileSet = SmallSet
  Schedule = Nightly
  Messages = Standard
  Pool = Default
  Priority = 10
}}
Job {{
  Name = BackupClient1
  JobDefs = Defs
  Client = client1-fd
  Storage = Local1
  Write Bootstrap = "{w}/bsr/%c.bsr"
}}
Job {{
  Name = BackupClient2
  JobDefs = Defs
  Client = client2-fd
  Storage = Local1
  Write Bootstrap = "{w}/bsr/%c.bsr"
}}
Job {{
  # its pre-backup hook (a database dump, say) fails: the director ends the job in error before it
  # contacts the client, so client3-fd's only catalog record is a failed run (JobStatus E)
  Name = BackupClient3
  JobDefs = Defs
  Client = client3-fd
  Storage = Local1
  RunBeforeJob = "/bin/sh -c 'echo dump failed >&2; exit 1'"
  Write Bootstrap = "{w}/bsr/%c.bsr"
}}
Job {{
  Name = BackupCatalog
  JobDefs = Defs
  Level = Full
  Client = client1-fd
  FileSet = Catalog
  Schedule = AfterNightly
  Pool = CatalogPool
  Storage = Local1
  RunBeforeJob = "/bin/sh -c 'sqlite3 {w}/dir/bacula.db .dump > {w}/dir/bacula.sql'"
  Write Bootstrap = "{w}/bsr/%n.bsr"
  Priority = 11
}}
Job {{
  Name = CopyCatalog
  Type = Copy
  Level = Full
  Client = client1-fd
  FileSet = Catalog
  Messages = Standard
  Pool = CatalogPool
  Storage = Local1
  Selection Type = PoolUncopiedJobs
  Priority = 12
}}
Job {{
  Name = CopyData
  Type = Copy
  Level = Full
  Client = client1-fd
  FileSet = SmallSet
  Messages = Standard
  Pool = Default
  Storage = Local1
  Selection Type = PoolUncopiedJobs
  Priority = 12
}}
"""

SD_CONF = """
Storage {{
  Name = {name}
  SDPort = {port}
  SDAddress = {addr}
  WorkingDirectory = "{w}/{name}"
  Pid Directory = "{w}/{name}"
  Maximum Concurrent Jobs = 10
}}
Director {{
  Name = {dir_name}
  Password = "{sd_pw}"
}}
Messages {{
  Name = Standard
  director = {dir_name} = all
}}
Device {{
  Name = {device}
  Media Type = {media}
  Archive Device = "{w}/{name}/archive"
  LabelMedia = yes
  Random Access = yes
  AutomaticMount = yes
  RemovableMedia = no
  AlwaysOpen = no
  Maximum Concurrent Jobs = 5
}}
"""

FD_CONF = """
FileDaemon {{
  Name = client1-fd
  FDport = {port}
  FDAddress = 127.0.0.1
  WorkingDirectory = "{w}/fd"
  Pid Directory = "{w}/fd"
  Maximum Concurrent Jobs = 10
}}
Director {{
  Name = {dir_name}
  Password = "{fd_pw}"
}}
Messages {{
  Name = Standard
  director = {dir_name} = all, !skipped, !restored
}}
"""

BCONSOLE_CONF = """
Director {{
  Name = {dir_name}
  DIRport = {dir_port}
  address = 127.0.0.1
  Password = "{pw}"
}}
"""


class BaculaStack:
    """Render configs into ``workdir``, start the daemons in the foreground, stop them by pid."""

    def __init__(self, workdir: Path, dir_env: dict | None = None, extra_dir_conf: str = ""):
        self.w = Path(workdir)
        self.dir_env = dir_env  # extra environment of the director (TZ, libfaketime), e.g. a skewed clock
        self.extra_dir_conf = extra_dir_conf
        self.procs: dict[str, subprocess.Popen] = {}
        self.dir_port = free_port()
        self.sd1_port = free_port()
        self.sd2_port = free_port("127.0.0.2")
        self.fd_port = free_port()
        self.db = self.w / "dir" / "bacula.db"

    # -- configuration -------------------------------------------------------------------
    def render(self) -> None:
        w = self.w
        for d in ("dir", "sd1", "sd2", "fd", "bsr", "data", "sd1/archive", "sd2/archive"):
            (w / d).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (w / "data" / f"file{i}.txt").write_text(f"policycheck test data {i}\n" * 50)
        kw = dict(w=w, dir_name=DIR_NAME, dir_port=self.dir_port, sd1_port=self.sd1_port,
                  sd2_port=self.sd2_port, fd_port=self.fd_port, admin_pw=ADMIN_PW, audit_pw=AUDIT_PW,
                  sd_pw=SD_PW, fd_pw=FD_PW)
        (w / "bacula-dir.conf").write_text(DIR_CONF.format(**kw) + self.extra_dir_conf)
        (w / "sd1.conf").write_text(SD_CONF.format(name="sd1", port=self.sd1_port, addr="127.0.0.1",
                                                   device="FileDev1", media="File1", **kw))
        (w / "sd2.conf").write_text(SD_CONF.format(name="sd2", port=self.sd2_port, addr="127.0.0.2",
                                                   device="FileDev2", media="File2", **kw))
        (w / "fd.conf").write_text(FD_CONF.format(port=self.fd_port, **kw))
        admin = w / "admin-bconsole.conf"
        admin.write_text(BCONSOLE_CONF.format(pw=ADMIN_PW, **kw))
        admin.chmod(0o600)
        self.make_catalog()

    def make_catalog(self) -> None:
        script = Path("/usr/share/bacula-director/make_sqlite3_tables").read_text()
        script = script.replace("XXX_DBNAME_XXX", "bacula").replace("cd /var/lib/bacula", f"cd {self.w / 'dir'}")
        path = self.w / "make_tables.sh"
        path.write_text(script)
        subprocess.run(["sh", str(path)], check=True, capture_output=True, timeout=60)

    # -- processes -------------------------------------------------------------------------
    def _start(self, key: str, binary: str, conf: Path, host: str, port: int) -> None:
        exe = which(binary)
        chk = subprocess.run([exe, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
        if chk.returncode != 0:
            raise RuntimeError(f"{binary} -t rejected {conf}: {chk.stdout}{chk.stderr}")
        log = open(self.w / f"{key}.out", "wb")  # noqa: SIM115 (the daemon writes to it until stop())
        env = dict(os.environ, **self.dir_env) if key == "dir" and self.dir_env else None
        self.procs[key] = subprocess.Popen([exe, "-f", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        deadline = time.monotonic() + 20
        while not listening(host, port):
            if self.procs[key].poll() is not None:
                raise RuntimeError(f"{binary} exited: {(self.w / f'{key}.out').read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not listen on {host}:{port}")
            time.sleep(0.05)

    def start(self) -> None:
        self.render()
        self._start("sd1", "bacula-sd", self.w / "sd1.conf", "127.0.0.1", self.sd1_port)
        self._start("sd2", "bacula-sd", self.w / "sd2.conf", "127.0.0.2", self.sd2_port)
        self._start("fd", "bacula-fd", self.w / "fd.conf", "127.0.0.1", self.fd_port)
        self._start("dir", "bacula-dir", self.w / "bacula-dir.conf", "127.0.0.1", self.dir_port)

    def stop(self) -> None:
        for key in ("dir", "fd", "sd2", "sd1"):
            p = self.procs.get(key)
            if p is None or p.poll() is not None:
                continue
            kill_group(p, grace=10)  # started with start_new_session: the daemon's own group

    # -- admin actions (the collector never does these) ------------------------------------
    def admin(self, commands: str, timeout: float = 90) -> str:
        r = subprocess.run([which("bconsole"), "-n", "-c", str(self.w / "admin-bconsole.conf")],
                           input=commands, capture_output=True, text=True, timeout=timeout)
        return r.stdout + r.stderr

    def run_job(self, name: str, extra: str = "") -> str:
        return self.admin(f"run job={name} {extra} yes\nwait\nmessages\n")

    def sql(self, statement: str, params=()) -> None:
        con = sqlite3.connect(self.db, timeout=30)
        try:
            con.execute(statement, params)
            con.commit()
        finally:
            con.close()
