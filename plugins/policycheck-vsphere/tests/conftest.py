"""Fixtures: build tools/vcsim once (cached by source hash) and start it per scenario on a loopback port."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from policycheck.testing import need

REPO = Path(__file__).resolve().parents[3]
VCSIM_SRC = REPO / "tools" / "vcsim"
GOCODE = Path("/usr/share/gocode")
GOVMOMI = GOCODE / "src" / "github.com" / "vmware" / "govmomi" / "simulator"
USER = "audit"
PASSWORD = "Pw-vsphere-7f3k!q"  # the secret every test hunts for in outputs


def _build_vcsim() -> Path:
    """tools/vcsim/build.sh builds (or reuses) the simulator binary and prints its path."""
    r = subprocess.run(["bash", str(VCSIM_SRC / "build.sh")], capture_output=True, text=True, timeout=600)
    if r.returncode == 2:
        need(False, r.stderr.strip() + " (run plugins/policycheck-vsphere/ci/setup.sh)")
    if r.returncode != 0:
        pytest.fail(f"building tools/vcsim failed:\n{r.stdout}\n{r.stderr}")
    return Path(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    return _build_vcsim()


class Sim:
    """A running simulator: port, ca (PEM path), vms {name: moid}, settings() for the collector."""

    def __init__(self, proc, port, ca, vms, scenario):
        self.proc, self.port, self.ca, self.vms, self.scenario = proc, port, ca, vms, scenario

    def settings(self, **over) -> dict:
        s = {"host": "127.0.0.1", "port": self.port, "username": USER, "password": PASSWORD,
             "ca_bundle": str(self.ca)}
        s.update(over)
        return {k: v for k, v in s.items() if v is not None}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def vcsim(vcsim_binary, tmp_path):
    """Factory: ``vcsim(scenario_dict)`` starts a simulator with that inventory and returns a Sim."""
    started = []

    def start(scenario: dict | None = None) -> Sim:
        sc = {"user": USER, "password": PASSWORD, "listen": "127.0.0.1:0"}
        sc.update(scenario or {})
        n = len(started)
        sc["cert_out"] = str(tmp_path / f"vcsim-{n}-ca.pem")
        path = tmp_path / f"scenario-{n}.json"
        path.write_text(json.dumps(sc))
        proc = subprocess.Popen([str(vcsim_binary), "-scenario", str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        sim = Sim(proc, None, Path(sc["cert_out"]), {}, sc)
        started.append(sim)
        deadline = time.monotonic() + 30
        buf = b""
        fd = proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                lines = buf.decode().split("\n")
                ready_line = next((x for x in lines if x.startswith("READY ")), None)
                vms_line = next((x for x in lines[:-1] if x.startswith("VMS")), None)
                if ready_line and vms_line is not None:
                    hostport = ready_line.split()[1].split("//")[1].split("/")[0]
                    sim.port = int(hostport.rsplit(":", 1)[1])
                    sim.vms = dict(x.split("=", 1) for x in vms_line.split()[1:])
                    return sim
            if proc.poll() is not None:
                break
        sim.stop()
        pytest.fail(f"vcsim did not start: {buf!r} {proc.stderr.read().decode(errors='replace')}")

    yield start
    for sim in started:
        sim.stop()


def three_host_director(**extra) -> dict:
    """The passing scenario: a director VM on a 3-host HA cluster, every disk on shared storage."""
    sc = {
        "clusters": 1, "hosts_per_cluster": 3, "ha": True, "drs": True,
        "vms": [{"name": "nsr01", "hostname": "nsr01.corp.example", "host": "DC0_C0_H0",
                 "disks": [{"datastore": "LocalDS_0", "size_gb": 40},
                           {"datastore": "LocalDS_0", "size_gb": 20}]}],
    }
    sc.update(extra)
    return sc


@pytest.fixture
def ctx_factory():
    """``ctx_factory(timeout, source)``: a CollectContext built by the real runtime (the settings schema,
    the password registered for redaction in every encoding, the source's deadline)."""
    from policycheck.testing import collect_context

    def make(timeout=15.0, source="vc"):
        settings = {"host": "127.0.0.1", "username": USER, "password": PASSWORD}
        return collect_context("vsphere", settings, name=source, timeout=timeout)[2]

    return make


@pytest.fixture
def director():
    """``director(**overrides)``: the passing scenario dict, to vary per test."""
    return three_host_director


@pytest.fixture
def secret():
    return PASSWORD
