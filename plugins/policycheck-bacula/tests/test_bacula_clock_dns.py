"""A real 9.6 director in another time zone with a slow clock, and a storage daemon named by a name this
machine cannot resolve (split DNS): the offset comes from the catalog, the skew is a warning, the unknown host
is `error`, never a pass, and `host_map` names it."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest
from bacula_helpers import bs, need_bacula, run_cli, verdicts, write_config

from policycheck.testing import assert_no_secret, need

pytestmark = pytest.mark.integration

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
VAULT = "bkp01-sd.backup.invalid"  # .invalid never resolves (RFC 6761)
EXTRA = f"""
Storage {{
  Name = Vault3
  Address = {VAULT}
  SDPort = 9103
  Password = "{bs.SD_PW}"
  Device = FileDev3
  Media Type = File3
}}
"""


@pytest.fixture(scope="module")
def skewed(tmp_path_factory):
    """Director at Asia/Kolkata (UTC+05:30, no DST) whose clock is 3 hours slow (libfaketime)."""
    need_bacula()
    need(os.path.exists(LIBFAKETIME), "libfaketime is not installed (Debian package faketime)")
    env = {"TZ": "Asia/Kolkata", "LD_PRELOAD": LIBFAKETIME, "FAKETIME": "-3h", "DONT_FAKE_MONOTONIC": "1"}
    s = bs.BaculaStack(tmp_path_factory.mktemp("skewed"), dir_env=env, extra_dir_conf=EXTRA)
    try:
        s.start()
        assert "Backup OK" in s.run_job("BackupClient1")
        assert "Backup OK" in s.run_job("BackupCatalog")
        yield s
    finally:
        s.stop()


def collect(stack, tmp_path, **over):
    src = {"timeout": 20, "address": "127.0.0.1", "port": stack.dir_port, "console_name": "audit",
           "director_host": "backup01.test", "password": "${BACULA_PW}", **over}
    cfg = write_config(tmp_path / "policycheck.yaml", src)
    out = tmp_path / "facts.json"
    r = run_cli(["collect", "-c", str(cfg), "-o", str(out)], {"BACULA_PW": bs.AUDIT_PW})
    assert r["rc"] == 0, r["stderr"]
    assert_no_secret(bs.AUDIT_PW, r["stdout"], r["stderr"], out.read_text())
    return json.loads(out.read_text()), r, cfg


def test_offset_from_the_catalog_and_skew_as_a_warning(skewed, tmp_path):
    facts, r, _ = collect(skewed, tmp_path)
    server = {e["id"]: e for e in facts["entities"]["backup_server"]}["pc-dir"]
    assert server["bacula_utc_offset"].startswith("+05:30 (catalog")
    skew = server["bacula_clock_skew_seconds"]
    assert -3 * 3600 - 120 < skew < -3 * 3600 + 120  # 3 hours slow, within the test's own run time
    assert "behind" in r["stderr"] and "3 h" in r["stderr"]
    con = sqlite3.connect(skewed.db)
    end, tdate = con.execute("SELECT EndTime, JobTDate FROM Job WHERE Name='BackupCatalog'").fetchone()
    con.close()
    boot = next(b for b in facts["entities"]["bootstrap"] if b["bacula_job"] == "BackupCatalog")
    # the director's own reading, with its real offset: not shifted by the skew
    assert boot["time"] == end.replace(" ", "T") + "+05:30"


def test_unresolvable_storage_daemon_is_error_then_host_map_decides(skewed, tmp_path):
    # the catalog volume as if the catalog backup had been written by Vault3 (the director's own SD, named
    # by a name only the backup network resolves)
    con = sqlite3.connect(skewed.db)
    vault_id = con.execute("SELECT StorageId FROM Storage WHERE Name='Vault3'").fetchone()[0]
    con.execute("UPDATE Media SET StorageId=? WHERE VolumeName LIKE 'Cat-%'", (vault_id,))
    con.commit()
    con.close()
    facts, _, cfg = collect(skewed, tmp_path)
    dev = {d["id"]: d for d in facts["entities"]["device"]}["pc-dir/Vault3"]
    assert "host" not in dev and VAULT in dev["_unknown"]["host"]
    r = run_cli(["check", "-c", str(cfg), "--format", "json"], {"BACULA_PW": bs.AUDIT_PW})
    res = verdicts(r["json"])[("BOOT-002", "pc-dir")]
    assert res["status"] == "error", r["stdout"][-2000:]
    # (the reason naming the address is on the device's _unknown.host; carrying it into the copy's derived
    # local_to_server is the core's part of the unknown-facts contract)
    assert "local_to_server" in res["message"]

    (tmp_path / "m").mkdir()
    facts, _, cfg = collect(skewed, tmp_path / "m", host_map={VAULT: "backup01.test"})
    dev = {d["id"]: d for d in facts["entities"]["device"]}["pc-dir/Vault3"]
    assert dev["host"] == "backup01.test" and dev["local_to_server"] is True
    r = run_cli(["check", "-c", str(cfg), "--format", "json"], {"BACULA_PW": bs.AUDIT_PW})
    assert verdicts(r["json"])[("BOOT-002", "pc-dir")]["status"] == "fail"
