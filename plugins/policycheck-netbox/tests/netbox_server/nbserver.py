"""Bring up a real NetBox (PyPI package `netbox`) with Debian's postgresql and redis-server on loopback
ports in a temporary directory, restore a saved migrated database, and stop everything by pid.

Used by the test fixtures (tests/conftest.py) and as a command line tool:

    python tests/netbox_server/nbserver.py make-dump   # migrate once (~9 min) and save the dump
    python tests/netbox_server/nbserver.py serve       # start, print URL and token, wait for Ctrl-C
"""
from __future__ import annotations

import glob
import gzip
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from policycheck.testing import free_port

NETBOX_VERSION = os.environ.get("POLICYCHECK_NETBOX_VERSION", "4.7.3")
HERE = Path(__file__).resolve().parent
DUMP_DIR = HERE / "dumps"
CACHE = Path(os.environ.get("POLICYCHECK_NETBOX_CACHE", "/var/cache/policycheck-netbox"))

# A fixed, test-only pepper and admin token: this NetBox only ever listens on 127.0.0.1 in a temp dir.
PEPPER = "policycheck-test-pepper-0123456789abcdef0123456789abcdef"
SECRET_KEY = "policycheck-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH"


class Unavailable(RuntimeError):
    """A binary or package the real NetBox needs is not installed here."""


def dump_path(version: str = NETBOX_VERSION) -> Path:
    return DUMP_DIR / f"netbox-{version}-migrated.sql.gz"


def venv_dir(version: str = NETBOX_VERSION) -> Path:
    return Path(os.environ.get("POLICYCHECK_NETBOX_VENV", str(CACHE / f"venv-{version}")))


def find_python312() -> str | None:
    """A Python >= 3.12 interpreter: $POLICYCHECK_NETBOX_PYTHON, pyenv's, or one on PATH."""
    cands = [os.environ.get("POLICYCHECK_NETBOX_PYTHON", "")]
    for root in (os.environ.get("PYENV_ROOT", ""), "/root/.pyenv", os.path.expanduser("~/.pyenv")):
        if root:
            cands += sorted(glob.glob(f"{root}/versions/3.1[2-9]*/bin/python3"), reverse=True)
    cands += [shutil.which(n) or "" for n in ("python3.13", "python3.12", "python3")]
    for c in cands:
        if not c or not os.path.exists(c):
            continue
        try:
            out = subprocess.run([c, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:
            continue
        if out == "True":
            return c
    return None


def pg_bindir() -> Path | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for d in reversed(dirs):
        if os.path.exists(f"{d}/initdb") and os.path.exists(f"{d}/postgres"):
            return Path(d)
    return None


def missing() -> list[str]:
    """What is missing for a real NetBox here (empty when everything is installed)."""
    out = []
    if pg_bindir() is None:
        out.append("Debian postgresql (/usr/lib/postgresql/*/bin/initdb)")
    if not shutil.which("redis-server"):
        out.append("Debian redis-server")
    if not (venv_dir() / "bin" / "netbox").exists():
        out.append(f"the NetBox {NETBOX_VERSION} venv at {venv_dir()} (run plugins/policycheck-netbox/ci/setup.sh)")
    return out


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}:\n{tail}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 15):
    """Stop one child by its own pid (never by name)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


class NetBoxServer:
    """One throw-away NetBox: postgres + redis + `netbox runserver`, all under ``root`` on 127.0.0.1."""

    def __init__(self, root: str | None = None, log=print):
        # as root, postgres runs as the 'postgres' user and must reach its data dir: stay out of a
        # private TMPDIR (e.g. under /root) unless told otherwise
        tmp = os.environ.get("POLICYCHECK_NETBOX_TMP") or ("/tmp" if os.geteuid() == 0 else None)
        self.root = Path(root or tempfile.mkdtemp(prefix="pc-netbox-", dir=tmp))
        self.log = log
        self.procs: dict[str, subprocess.Popen] = {}
        self.pg_port = self.redis_port = self.port = 0
        self.url = ""
        self.venv = venv_dir()
        self.pgbin = pg_bindir()
        miss = missing()
        if miss:
            raise Unavailable("missing: " + "; ".join(miss))

    # -- postgres -------------------------------------------------------------------------------
    def _pg_user(self):
        """postgres refuses to run as root: run it as the 'postgres' system user when we are root."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root but there is no 'postgres' system user (install postgresql)") from None

    def _as_pg(self):
        pw = self._pg_user()
        if pw is None:
            return None

        def demote():
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        return demote

    def start_postgres(self):
        pgdata = self.root / "pg"
        sock = self.root / "pgsock"
        pgdata.mkdir(parents=True, exist_ok=True)
        sock.mkdir(exist_ok=True)
        pw = self._pg_user()
        if pw is not None:
            os.chmod(self.root, 0o755)
            for p in (pgdata, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        log = self.root / "postgres.log"
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run([str(self.pgbin / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
                            "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True,
                           preexec_fn=self._as_pg(), cwd="/")
        self.pg_port = free_port()
        with open(log, "ab") as out:
            self.procs["postgres"] = subprocess.Popen(
                [str(self.pgbin / "postgres"), "-D", str(pgdata), "-h", "127.0.0.1", "-p", str(self.pg_port),
                 "-k", str(sock), "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"],
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=self._as_pg(), cwd="/")
        _wait_port(self.pg_port, self.procs["postgres"], "postgres", 30, log)
        # accepting TCP is not yet accepting queries
        for _ in range(100):
            r = self.psql("SELECT 1", db="postgres", check=False)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        self.psql("CREATE DATABASE netbox", db="postgres")

    def psql(self, sql: str, db: str = "netbox", check: bool = True):
        return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                               str(self.pg_port), "-U", "postgres", "-d", db, "-c", sql],
                              capture_output=True, text=True, check=check)

    # -- redis ----------------------------------------------------------------------------------
    def start_redis(self):
        self.redis_port = free_port()
        log = self.root / "redis.log"
        with open(log, "ab") as out:
            self.procs["redis"] = subprocess.Popen(
                ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.root),
                 "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
                stdout=out, stderr=subprocess.STDOUT, cwd=str(self.root))
        _wait_port(self.redis_port, self.procs["redis"], "redis-server", 20, log)

    # -- netbox ---------------------------------------------------------------------------------
    def configure(self):
        nbroot = self.root / "netbox"
        if not (nbroot / "conf" / "configuration.py").exists():
            subprocess.run([str(self.venv / "bin" / "netbox"), "setup", "--target", str(nbroot)],
                           check=True, capture_output=True)
        conf = {
            "ALLOWED_HOSTS": ["*"],
            "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "netbox",
                                      "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1",
                                      "PORT": str(self.pg_port), "CONN_MAX_AGE": 300}},
            "REDIS": {k: {"HOST": "127.0.0.1", "PORT": self.redis_port, "USERNAME": "", "PASSWORD": "",
                          "DATABASE": i, "SSL": False} for i, k in enumerate(("tasks", "caching"))},
            "SECRET_KEY": SECRET_KEY,
            "API_TOKEN_PEPPERS": {1: PEPPER},
            "DEBUG": False,
            "TIME_ZONE": "UTC",
        }
        text = "\n".join(f"{k} = {v!r}" for k, v in conf.items()) + "\n"
        (nbroot / "conf" / "configuration.py").write_text(text)
        self.env = dict(os.environ, NETBOX_ROOT=str(nbroot), PYTHONUNBUFFERED="1")
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        return nbroot

    def manage(self, *args, timeout: float = 1200, input: str | None = None):
        r = subprocess.run([str(self.venv / "bin" / "netbox"), *args], env=self.env, cwd=str(self.root),
                           capture_output=True, text=True, timeout=timeout, input=input)
        if r.returncode != 0:
            raise RuntimeError(f"netbox {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n"
                               f"{r.stderr[-4000:]}")
        return r.stdout

    def restore(self, dump: Path):
        with gzip.open(dump, "rb") as f:
            sql = f.read()
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                            str(self.pg_port), "-U", "postgres", "-d", "netbox"],
                           input=sql, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"restoring {dump.name} failed: {r.stderr.decode(errors='replace')[-2000:]}")

    def save_dump(self, dump: Path):
        dump.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
                            "--no-owner", "--no-privileges", "netbox"], capture_output=True, check=True)
        with gzip.GzipFile(dump, "wb", compresslevel=9, mtime=0) as f:
            f.write(r.stdout)

    def start_netbox(self, timeout: float = 180, wait: bool = True):
        self.port = free_port()
        log = self.root / "netbox.log"
        with open(log, "ab") as out:
            self.procs["netbox"] = subprocess.Popen(
                [str(self.venv / "bin" / "netbox"), "runserver", f"127.0.0.1:{self.port}", "--noreload",
                 "--insecure", "--skip-checks"],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=str(self.root))
        self.url = f"http://127.0.0.1:{self.port}"
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 180):
        _wait_port(self.port, self.procs["netbox"], "netbox runserver", timeout, self.root / "netbox.log")
        deadline = time.monotonic() + timeout
        while True:  # wait until Django answers (first request loads the app)
            try:
                with urllib.request.urlopen(self.url + "/api/status/", timeout=30) as r:
                    json.load(r)
                    return
            except urllib.error.HTTPError:
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def start(self, dump: Path | None = None, wait: bool = True):
        """Full bring-up from the saved dump (fails if there is none: run make-dump first)."""
        dump = dump or dump_path()
        if not dump.exists():
            raise RuntimeError(f"no saved database for NetBox {NETBOX_VERSION}: {dump} "
                               f"(run: python {__file__} make-dump)")
        t0 = time.monotonic()
        self.start_postgres()
        self.start_redis()
        self.configure()
        self.restore(dump)
        self.log(f"postgres+redis up, dump restored in {time.monotonic() - t0:.1f}s")
        self.start_netbox(wait=wait)
        if not wait:
            return self
        self.log(f"NetBox {NETBOX_VERSION} answering at {self.url} after {time.monotonic() - t0:.1f}s")
        return self

    def stop(self):
        for name in ("netbox", "redis", "postgres"):
            _stop(self.procs.get(name), signal.SIGINT if name == "postgres" else signal.SIGTERM)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def make_dump():
    srv = NetBoxServer.__new__(NetBoxServer)
    NetBoxServer.__init__(srv)
    try:
        srv.start_postgres()
        srv.start_redis()
        srv.configure()
        t0 = time.monotonic()
        print(srv.manage("migrate", "--no-input", timeout=3600)[-500:])
        print(f"migrate took {time.monotonic() - t0:.0f}s")
        srv.save_dump(dump_path())
        print(f"saved {dump_path()} ({dump_path().stat().st_size} bytes)")
    finally:
        srv.cleanup()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if cmd == "make-dump":
        make_dump()
    elif cmd == "serve":
        s = NetBoxServer().start()
        print(s.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            s.cleanup()
    else:
        sys.exit(f"usage: {sys.argv[0]} make-dump|serve")
