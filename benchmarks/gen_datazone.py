"""Seeded generator of realistic facts snapshots (the document `policycheck collect -o` writes) for benchmarks.

    python benchmarks/gen_datazone.py --clients 100000 --vms 20000 --servers 50 --seed 1 -o dz.json

Physical and virtual backup servers with storage nodes and devices, bootstrap backups with copies and clones,
clients on several OSes with file-system, image-level and BMR backups of varied ages, VMs on clusters of
hypervisor hosts with shared and local datastores, affinity rules, passthrough devices, templates and
snapshots, inventory roles and dependencies. Per built-in policy, about one target in ten fails, one errors
(a missing fact) and, for the policies that have a ``when:`` (BOOT-003, VIRT-001, VIRT-002), one is not
applicable (a physical backup server). Policies without ``when:`` cannot be "not applicable".
By default the snapshot also holds the derived facts, as `policycheck collect` writes it (``--raw``: without).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

COLLECTED_AT = datetime(2026, 11, 25, 6, 0, 0, tzinfo=timezone.utc)
OFFSETS = [timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]
SERVER_POLICIES = ("BSRV-001", "BSRV-002", "BSRV-003", "BOOT-001", "BOOT-002", "BOOT-003", "VIRT-001",
                   "VIRT-002", "BMR-002")
WHEN_VIRTUAL = ("BOOT-003", "VIRT-001", "VIRT-002")
OSES = [("linux", 0.50, ["rhel 9.4", "sles 15 sp5", "ubuntu 22.04"]), ("windows", 0.35, ["2019", "2022"]),
        ("solaris", 0.05, ["11.4"]), ("aix", 0.05, ["7.3"]), ("hpux", 0.05, ["11.31"])]
OS_BMR = {"linux": ["rear", "kickstart", "autoyast"], "solaris": ["jumpstart"], "aix": ["mksysb"],
          "hpux": ["ignite"], "windows": ["windows_bmr"]}
ROLES = ["application", "database", "web_server", "file_server", "mail_server", "print_server"]


class Gen:
    def __init__(self, clients, vms, servers, seed):
        self.n_clients, self.n_vms, self.n_servers = clients, vms, max(1, servers)
        self.rng = random.Random(seed)
        self.ents = {k: [] for k in ("host", "backup_server", "storage_node", "device", "bootstrap", "client",
                                     "vm", "hypervisor_host", "cluster", "datastore", "dr_test")}
        self.n_sites = max(1, min(10, self.n_servers // 5 or 1))
        self.vm_seq = 1000
        # the facts of the catalog's coverage/recency/copy/immutability/restore policies come from a second
        # stream, so the verdicts of the first ten policies stay what they were for a given seed
        self.r2 = random.Random(seed * 7919 + 1)
        self.devs: dict = {}
        self.imm: dict = {}

    # ---- helpers ----------------------------------------------------------------------------------
    def ago(self, seconds) -> str:
        tz = OFFSETS[self.rng.randrange(3)]
        return (COLLECTED_AT - timedelta(seconds=int(seconds))).astimezone(tz).isoformat()

    def days(self, lo, hi) -> str:
        return self.ago(self.rng.uniform(lo, hi) * 86400)

    def addr(self, n):
        return [f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"]

    def add(self, kind, ent, source):
        ent["_sources"] = [source]
        ent["_observed_at"] = "2026-11-25T05:58:00+00:00"
        self.ents[kind].append(ent)
        return ent

    def host(self, fqdn, n, os="linux", platform="physical", roles=(), services=(), depends_on=(), **kw):
        short = fqdn.split(".", 1)[0]
        h = {"id": fqdn, "aliases": [short], "hostname": short, "fqdn": fqdn, "addresses": self.addr(n),
             "os": os, "os_version": "rhel 9.4" if os == "linux" else "", "platform": platform,
             "roles": list(roles), "services": list(services), "depends_on": list(depends_on), "bmr_methods": []}
        h.update(kw)
        return self.add("host", h, "inventory")

    def new_vm_id(self):
        self.vm_seq += 1
        return f"vm-{self.vm_seq}"

    def pick(self, fail=0.1, error=0.1) -> str:
        r = self.r2.random()
        return "fail" if r < fail else "error" if r < fail + error else "pass"

    def modes(self, candidates, policies):
        """policy -> {target index: 'fail'|'error'} for about one target in ten each."""
        out = {}
        for p in policies:
            idx = list(candidates if p not in WHEN_VIRTUAL else [i for i in candidates if self.virtual[i]])
            self.rng.shuffle(idx)
            k = max(1, round(len(idx) * 0.1)) if len(idx) >= 3 else 0
            out[p] = {i: "fail" for i in idx[:k]} | {i: "error" for i in idx[k:2 * k]}
        return out

    # ---- the virtual infrastructure ---------------------------------------------------------------
    def cluster(self, name, n_hosts, n_shared, site, ha=True):
        cid = f"domain-c{len(self.ents['cluster']) + 7}"
        hosts = [f"esx{len(self.ents['hypervisor_host']) + i:04d}.site{site}.example" for i in range(n_hosts)]
        shared = [f"datastore-{cid}-{k}" for k in range(n_shared)]
        for k, ds in enumerate(shared):
            self.add("datastore", {"id": ds, "name": f"{name}-{'vsan' if k == 0 else 'nfs'}{k:02d}",
                                   "type": "vsan" if k == 0 else "nfs", "hosts": list(hosts)}, "vsphere")
        locals_ = {}
        for h in hosts:
            local = f"datastore-{h.split('.')[0]}-local"
            locals_[h] = local
            self.add("datastore", {"id": local, "name": f"{h.split('.')[0]}-local", "type": "local",
                                   "hosts": [h]}, "vsphere")
            r = self.rng.random()
            state = "connected" if r < 0.97 else "disconnected"
            self.add("hypervisor_host", {"id": h, "name": h, "cluster": cid, "connection_state": state,
                                         "maintenance": 0.97 <= self.rng.random() < 0.99 if n_hosts > 3 else False,
                                         "vmotion_enabled": True, "datastores": shared + [local]}, "vsphere")
        self.add("cluster", {"id": cid, "name": name, "hosts": hosts, "ha_enabled": ha, "drs_enabled": True,
                             "drs_automation": "fully_automated"}, "vsphere")
        return {"id": cid, "hosts": hosts, "shared": shared, "local": locals_}

    def vm(self, cl, name, guest, template=None, system_ds=None, data_ds=None, passthrough=(), rules=(),
           snapshots=(), is_template=False, **kw):
        disks = [{"label": "Hard disk 1", "datastore": system_ds or cl["shared"][0], "system": True, "size_gb": 60}]
        if data_ds is not False:
            disks.append({"label": "Hard disk 2", "datastore": data_ds or self.rng.choice(cl["shared"]),
                          "system": False, "size_gb": self.rng.choice([100, 250, 500, 2000])})
        v = {"id": self.new_vm_id(), "name": name, "guest_hostname": guest,
             "power_state": "off" if is_template else self.rng.choice(["on"] * 30 + ["off"]),
             "is_template": is_template, "template": template, "cluster": cl["id"],
             "host": self.rng.choice(cl["hosts"]), "disks": disks, "passthrough_devices": list(passthrough),
             "host_rules": list(rules), "ha_disabled": False, "drs_disabled": False, "snapshots": list(snapshots)}
        v.update(kw)
        return self.add("vm", v, "vsphere")

    # ---- backup servers ---------------------------------------------------------------------------
    def servers(self):
        S = self.n_servers
        self.virtual = [i % 10 != 3 for i in range(S)]  # one in ten physical: not applicable to when-virtual
        if S == 1:
            self.virtual = [True]
        self.mode = self.modes(range(S), SERVER_POLICIES)
        order = list(range(S))
        self.r2.shuffle(order)
        k = max(1, round(S * 0.1)) if S >= 3 else 0
        self.imm_mode = {i: "fail" for i in order[:k]} | {i: "error" for i in order[k:2 * k]}
        self.pending: list = []
        self.infra = {}
        n = 1
        for j in range(self.n_sites):
            d = f"site{j}.example"
            dns = self.host(f"dns{j}.{d}", n, roles=["dns"], services=["dns"], independent_recovery=True)
            ldap = self.host(f"ldap{j}.{d}", n + 1, roles=["directory"], services=["ldap", "kerberos"],
                             depends_on=[dns["id"]], independent_recovery=True)
            lic = self.host(f"lic{j}.{d}", n + 2, roles=["license_server"], services=["http"],
                            depends_on=[dns["id"]], independent_recovery=True)
            vc = self.host(f"vc{j}.{d}", n + 3, platform="virtual", roles=["hypervisor_manager"],
                           services=["http"], depends_on=[dns["id"], ldap["id"]], independent_recovery=True)
            n += 4
            mgmt = self.cluster(f"mgmt{j}", 3, 2, j)
            self.vm(mgmt, f"vc{j}", vc["id"], template="tpl-vcsa")
            self.infra[j] = {"dns": dns["id"], "ldap": ldap["id"], "lic": lic["id"], "vc": vc["id"], "mgmt": mgmt}
        self.servers_of_site = {j: [] for j in range(self.n_sites)}
        for i in range(S):
            self.server(i, 1000 + 10 * i)

    def server(self, i, n):
        j = i % self.n_sites
        inf, m = self.infra[j], {p: self.mode[p].get(i) for p in SERVER_POLICIES}
        d = f"site{j}.example"
        sid = f"bsrv{i:03d}.{d}"
        self.servers_of_site[j].append(sid)
        virtual = self.virtual[i]
        roles, services = ["backup_server"], ["backup", "networker", "ssh"]
        if m["BSRV-001"] == "fail":
            roles, services = roles + ["file_server", "sunray_server"], services + ["nfs", "sunray"]
        deps = [inf["dns"]]
        if m["BSRV-002"] == "fail":
            deps = [inf["dns"], inf["vc"], inf["lic"]]  # closure: dns, vc, ldap, lic = 4 > 3
        extra = {}
        if m["BSRV-003"] == "fail":  # a DNS cache only this server protects: a deadlock in DR
            cache = self.host(f"dnscache{i}.{d}", n + 1, roles=["dns"], services=["dns"])
            self.client_entity(cache["id"], sid, "linux", {"last_bmr_backup": self.days(1, 20),
                                                           "last_image_backup": None})
            deps = deps + [cache["id"]]
        bmr = ["networker_bmr"] if not virtual or i % 2 else []
        if m["BMR-002"] == "error":
            bmr = None
        h = self.host(sid, n, platform="virtual" if virtual else "physical", roles=roles, services=services,
                      depends_on=deps, bmr_methods=bmr)
        if bmr is None:
            del h["bmr_methods"]
        if m["BSRV-001"] == "error":
            del h["services"]
            h["_unknown"] = {"services": "ansible: vaulted variable"}
        if m["BSRV-002"] == "error":
            del h["depends_on"]
        self.add("backup_server", {"id": sid, "host": sid, "product": "networker",
                                   "version": "19.13.0.0", **extra}, "networker")
        # its VM on the site's management cluster
        mgmt = inf["mgmt"]
        if virtual:
            kw = {"template": "tpl-nsr" if not bmr and m["BMR-002"] != "error" else None}
            v2 = m["VIRT-002"]
            if v2 == "fail":
                kind = i % 4
                if kind == 0:
                    kw["data_ds"] = mgmt["local"][mgmt["hosts"][0]]
                elif kind == 1:
                    kw["passthrough"] = [{"type": "pci", "name": "PCI device 0", "id": "PCI device 0 (FC HBA)",
                                          "description": "QLogic QLE2692 Fibre Channel HBA", "class": "hba"}]
                elif kind == 2:
                    kw["rules"] = [{"name": f"pin-{sid}", "mandatory": True, "hosts": [mgmt["hosts"][0]],
                                    "enabled": True}]
                else:
                    kw["ha_disabled"] = True
            elif i % 5 == 1:
                kw["rules"] = [{"name": f"prefer-{sid}", "mandatory": False, "hosts": mgmt["hosts"][:2],
                                "enabled": True}]
            vm = self.vm(mgmt, sid.split(".")[0], sid, **kw)
            if v2 == "error":
                del vm["passthrough_devices"]
        # storage nodes and devices
        sns = []
        for s in "ab":
            snh = self.host(f"sn{i:03d}{s}.{d}", n + (2 if s == "a" else 3), roles=["storage_node"],
                            services=["backup"], depends_on=[inf["dns"]], bmr_methods=["rear"])
            sns.append(self.add("storage_node", {"id": snh["id"], "host": snh["id"], "backup_server": sid},
                                "networker")["id"])
        boot_disk = {"fail": "Hard disk 1", "error": "Hard disk 9"}.get(m["BOOT-003"], "Hard disk 2")
        dev = lambda did, **kw: self.add("device", {"id": did, "backup_server": sid, "enabled": True, **kw},  # noqa
                                         "networker")["id"]
        boot = dev(f"rd={sid}:/nsr/bootstrap", storage_node=None, host=sid, media_type="disk", client_data=False,
                   vm_disk=boot_disk if virtual else None)
        dedup = dev(f"rd={sns[0]}:dd01", storage_node=sns[0], host=sns[0], media_type="dedup", client_data=True)
        tape = dev(f"rd={sns[1]}:/dev/nst0", storage_node=sns[1], host=sns[1], media_type="tape", client_data=True)
        imm = self.imm[sid] = self.imm_mode.get(i, "pass")
        by_id = {d["id"]: d for d in self.ents["device"][-3:]}
        by_id[boot]["immutable"] = by_id[tape]["immutable"] = False
        if imm == "error":  # the S3/DD API user may not read the retention lock
            by_id[dedup]["_unknown"] = {"immutable": "networker: the retention lock state of dd01 is not readable"}
        else:
            by_id[dedup]["immutable"] = imm == "pass"
        self.devs[sid] = {"local": boot, "dedup": dedup, "tape": tape}
        for c in self.pending:
            self.client_recency(c, sid)
        self.pending = []
        if m["VIRT-001"] == "fail":
            dev(f"rd={sid}:/nsr/aftd01", storage_node=None, host=sid, media_type="disk", client_data=True,
                vm_disk="Hard disk 2")
        elif m["VIRT-001"] == "error":
            dev(f"rd={sid}:/nsr/aftd02", storage_node=None, host=sid, media_type="disk", vm_disk="Hard disk 2")
        elif i % 7 == 0:
            dev(f"rd={sid}:/nsr/old", storage_node=None, host=sid, media_type="file", client_data=True,
                enabled=False, vm_disk=None)
        # bootstraps: daily, two copies (the server's disk and a clone on the storage node's dedup device)
        start = 80 * 3600 if m["BOOT-001"] == "fail" else 6 * 3600
        boots = []
        for k in range(14):
            copies = [{"device": boot, "volume": f"{sid[:8]}.boot.{k:03d}", "clone": False, "location": None,
                       "offsite": False}]
            if m["BOOT-002"] != "fail":
                copies.append({"device": dedup, "volume": f"dd.boot.{k:03d}", "clone": True, "location": None,
                               "offsite": False})
            elif k == 0:
                copies.append({"device": None, "volume": None, "clone": False, "location": f"{sid}:/root/bsr",
                               "location_host": sid, "offsite": False, "immutable": False, "offline": False})
            if imm == "error":  # a vaulted tape of the bootstrap: the client data decides (unknown)
                copies.append({"device": tape, "volume": f"V{k:05d}", "clone": True, "location": None,
                               "offsite": True, "offline": True})
            b = {"id": f"{sid}/bootstrap/{4_000_000 + k}", "backup_server": sid,
                 "time": self.ago(start + k * 86400 + self.rng.randrange(600)),
                 "level": "full" if k % 7 == 0 else "incr", "copies": copies}
            boots.append(self.add("bootstrap", b, "networker"))
        if m["BOOT-002"] == "error":
            del boots[0]["copies"]
        if m["BOOT-001"] == "error":  # the collector names a latest bootstrap whose save time it could not read
            b = self.add("bootstrap", {"id": f"{sid}/bootstrap/running", "backup_server": sid, "level": "full",
                                       "copies": [dict(c) for c in boots[-1]["copies"]]}, "networker")
            self.ents["backup_server"][-1]["latest_bootstrap"] = b["id"]
        # DR tests of the server's host
        age = (300, 400) if m["BMR-002"] == "fail" else (20, 150)
        self.add("dr_test", {"id": f"drt-{sid}-1", "host": sid, "time": self.days(*age), "result": "success",
                             "kind": "bmr"}, "inventory")
        # an older failed test (the most recent test decides: a failure after the success fails BMR-002)
        failed_age = (1, 15) if m["BMR-002"] == "fail" else (450, 500)
        self.add("dr_test", {"id": f"drt-{sid}-2", "host": sid, "time": self.days(*failed_age), "result": "failure",
                             "kind": "bootstrap_restore"}, "inventory")

    # ---- clients, their hosts and VMs -------------------------------------------------------------
    def client_entity(self, fqdn, server, os, times, aliases=True):
        c = {"id": fqdn, "hostname": fqdn, "backup_server": server, "os": os,
             "last_filesystem_backup": self.days(0.1, 3)}
        if aliases:
            c["aliases"] = [fqdn.split(".", 1)[0]]
        c.update(times)
        self.client_recency(c, server)
        return self.add("client", c, "networker")

    def client_recency(self, c, server):
        """RPO-001 and CPY-001 facts: the latest successful and failed runs, the latest backup's copies."""
        if server not in self.devs:  # a client made before its server's devices: filled in after them
            self.pending.append(c)
            return
        r2, rpo, cpy = self.r2, self.pick(), self.pick()
        ago = lambda lo, hi: (COLLECTED_AT - timedelta(hours=r2.uniform(lo, hi))).isoformat()  # noqa: E731
        if rpo == "pass":
            c["last_successful_backup"] = ago(1, 20)
            c["last_failed_backup"] = ago(30, 300) if r2.random() < 0.3 else None
        elif rpo == "fail":
            never = r2.random() < 0.5  # never succeeded (only failed runs, or never ran), or too old
            c["last_successful_backup"] = None if never else ago(30, 400)
            c["last_failed_backup"] = ago(1, 20) if not never or r2.random() < 0.7 else None
        else:
            c["_unknown"] = {"last_successful_backup": "networker: the job history of this client timed out"}
            c["last_failed_backup"] = None
        devs = self.devs[server]
        if c.get("last_successful_backup", "?") is None:
            c["latest_backup_copies"] = []
        elif cpy == "pass":
            c["latest_backup_copies"] = [{"device": devs["dedup"], "volume": "dd.c", "clone": False},
                                         {"device": devs["tape"], "volume": "T0001", "clone": True,
                                          "offline": self.imm[server] == "pass" and r2.random() < 0.2}]
        elif cpy == "fail":
            c["latest_backup_copies"] = [{"device": devs["local"], "volume": "aftd.c", "clone": False,
                                          "offline": False}]
        else:
            c["latest_backup_copies"] = [{"device": devs["dedup"], "volume": "dd.c", "clone": False,
                                          "_unknown": {"local_to_server": "networker: clone target not mapped"}}]

    def restore_test(self, fqdn):
        """RST-001: restore tests of a client's host (the latest decides)."""
        r = self.r2.random()
        if r < 0.65:
            self.add("dr_test", {"id": f"rt-{fqdn}", "host": fqdn, "time": self.ago(self.r2.uniform(5, 150) * 86400),
                                 "result": "success", "kind": "file_restore"}, "inventory")
        elif r < 0.8:
            self.add("dr_test", {"id": f"rt-{fqdn}", "host": fqdn, "time": self.ago(self.r2.uniform(1, 20) * 86400),
                                 "result": "failure", "kind": "image_restore"}, "inventory")

    def clients(self):
        N, rng = self.n_clients, self.rng
        server_vms = sum(self.virtual) + self.n_sites
        n_templates = max(1, self.n_vms // 50)
        client_vms = max(0, self.n_vms - server_vms - n_templates)
        per_cluster = 200
        clusters, j_cl = [], 0
        for c in range(max(1, -(-client_vms // per_cluster))):
            clusters.append(self.cluster(f"prod{c:03d}", 8, 4, c % self.n_sites, ha=c % 9 != 4))
        for t in range(n_templates):
            self.vm(clusters[t % len(clusters)], f"tpl-{t:04d}", None, is_template=True, data_ds=False)
        vm_every = N / client_vms if client_vms else float("inf")
        next_vm = 0.0
        osw = [o[1] for o in OSES]
        for k in range(N):
            j = k % self.n_sites
            fqdn = f"c{k:06d}.site{j}.example"
            server = self.servers_of_site[j][(k // self.n_sites) % len(self.servers_of_site[j])]
            os, _, versions = rng.choices(OSES, osw)[0]
            is_vm = k >= next_vm
            if is_vm:
                next_vm += vm_every
            mode = rng.random()
            mode = "fail" if mode < 0.1 else "error" if mode < 0.2 else "pass"
            times = {"last_image_backup": None, "last_bmr_backup": None}
            bmr_methods, vm_kw, in_inventory = [], None, True
            if is_vm:
                vm_kw = {"template": None, "snapshots": []}
                if mode == "pass":
                    r = rng.random()
                    if r < 0.7:
                        times["last_image_backup"] = self.days(0.2, 25)
                    elif r < 0.85:
                        vm_kw["template"] = rng.choice(["tpl-rhel9", "tpl-win2022", "tpl-sles15"])
                    else:
                        vm_kw["snapshots"] = [{"name": "before-patch", "time": self.days(0.5, 6)}]
                elif mode == "fail":
                    times["last_image_backup"] = self.days(40, 90) if rng.random() < 0.5 else None
                    if rng.random() < 0.5:
                        vm_kw["snapshots"] = [{"name": "old", "time": self.days(30, 60)}]
            elif mode == "pass":
                if os == "windows" or rng.random() < 0.3:
                    times["last_bmr_backup"] = self.days(0.5, 25)
                else:
                    bmr_methods = [rng.choice(OS_BMR[os])]
            elif mode == "fail":
                times["last_bmr_backup"] = self.days(40, 200) if rng.random() < 0.5 else None
            if mode == "error":
                if is_vm or rng.random() < 0.5:
                    del times["last_bmr_backup"]  # the collector could not read its BMR save sets
                else:
                    in_inventory = False  # no inventory describes its host
            c = self.client_entity(fqdn, server, os, times, aliases=rng.random() < 0.5)
            if not in_inventory:
                c["hostname"] = c["id"] = f"c{k:06d}-old.legacy.example"
                c.pop("aliases", None)
                continue
            role = rng.choice(ROLES)
            self.restore_test(fqdn)
            cov = self.r2.random()
            extra = {}
            if cov < 0.03:  # COV-001: exempt with a reason (not applicable), or an exemption not readable
                extra["backup"] = {"exempt": True, "reason": "stateless, rebuilt from template", "owner": "ops"}
            elif cov < 0.05:
                extra["_unknown"] = {"backup": "ansible: vaulted variable backup_exemption"}
            self.host(fqdn, 100_000 + k, os=os, platform="virtual" if is_vm else rng.choice(["physical", "blade"]),
                      roles=[role], services=["smb"] if role == "file_server" else [],
                      depends_on=[self.infra[j]["dns"], self.infra[j]["ldap"]], bmr_methods=bmr_methods,
                      os_version=rng.choice(versions), **extra)
            if is_vm:
                cl = clusters[j_cl % len(clusters)]
                j_cl += 1
                r = rng.random()
                if r < 0.03:
                    vm_kw["data_ds"] = cl["local"][rng.choice(cl["hosts"])]
                elif r < 0.05:
                    vm_kw["passthrough"] = [{"type": "cdrom", "name": "CD/DVD drive 1"}]
                elif r < 0.08:
                    vm_kw["rules"] = [{"name": f"lic-{role}", "mandatory": r < 0.06, "hosts": cl["hosts"][:2],
                                       "enabled": True}]
                self.vm(cl, fqdn.split(".")[0], fqdn, **vm_kw)
        # infrastructure hosts are clients too (they have independent_recovery: no DR deadlock)
        for j, inf in self.infra.items():
            for key in ("dns", "ldap", "lic", "vc"):
                self.client_entity(inf[key], self.servers_of_site[j][0], "linux",
                                   {"last_bmr_backup": self.days(1, 10), "last_image_backup": None})

    def document(self) -> dict:
        self.servers()
        self.clients()
        kinds = {"inventory": ["host", "dr_test"], "networker": ["backup_server", "storage_node", "device",
                                                               "bootstrap", "client"],
                 "vsphere": ["vm", "hypervisor_host", "cluster", "datastore"]}
        sources = [{"name": name, "plugin": "file" if name == "inventory" else name, "status": "ok", "kinds": ks,
                    "objects": sum(len(self.ents[k]) for k in ks), "duration_s": 1.0, "error": None}
                   for name, ks in kinds.items()]
        return {"schema_version": 1, "collected_at": COLLECTED_AT.isoformat(), "sources": sources,
                "entities": self.ents, "conflicts": []}


def generate(clients=1000, vms=None, servers=None, seed=1, raw=False) -> dict:
    """A facts document; with the derived facts policycheck computes unless ``raw``."""
    vms = clients // 5 if vms is None else vms
    servers = max(10, clients // 2000) if servers is None else servers
    doc = Gen(clients, vms, servers, seed).document()
    if not raw:
        from policycheck.derive import derive
        from policycheck.facts import Facts

        derive(Facts(doc))
    return doc


def validate(doc) -> list:
    """Schema errors (as strings) of a facts document against policycheck's facts schema."""
    from pathlib import Path

    import jsonschema

    import policycheck

    schema = json.loads((Path(policycheck.__file__).parent / "schemas" / "facts.schema.json").read_text())
    v = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--vms", type=int, help="default: clients / 5")
    ap.add_argument("--servers", type=int, help="default: max(10, clients / 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--raw", action="store_true", help="leave out the derived facts")
    ap.add_argument("--validate", action="store_true", help="check the result against the facts JSON Schema")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    doc = generate(a.clients, a.vms, a.servers, a.seed, a.raw)
    if a.validate:
        errs = validate(doc)
        for e in errs[:20]:
            print(f"schema: {e}", file=sys.stderr)
        if errs:
            return 1
    with open(a.output, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"), ensure_ascii=False)
    counts = ", ".join(f"{len(v)} {k}" for k, v in doc["entities"].items())
    print(f"{a.output}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
