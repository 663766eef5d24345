"""The core's derivations, registered through the same ``policycheck_derivations`` hook as a plugin's."""
from __future__ import annotations

from policycheck.derivations import Derivation
from policycheck.derivations.backups import bootstraps, clients
from policycheck.derivations.dependencies import dependencies
from policycheck.derivations.devices import devices
from policycheck.derivations.joins import client_hosts, join_vms, servers
from policycheck.derivations.vms import datastores_and_vms

_DR = (("backup_server", "host"), ("dr_test", "host"), ("dr_test", "time"), ("dr_test", "result"))
_COPY = (("copy", "device"), ("device", "local_to_server"), ("device", "media_type"), ("device", "immutable"))

DERIVATIONS: tuple[Derivation, ...] = (
    Derivation("host", "vm", (("vm", "guest_hostname"), ("vm", "name"), ("vm", "aliases"), ("host", "platform")),
               join_vms, "the VM whose guest host name (else name, id, alias) names the host; null on physical "
               "or blade hosts; unknown when two VMs match equally or no hypervisor source ran",
               "host web01 (platform virtual) + vm 'web01' -> host.vm: web01"),
    Derivation("client", "host", (("client", "hostname"), ("client", "aliases"), ("host", "aliases")),
               client_hosts, "the host its host name, id or an alias names",
               "client web01.corp.example + host web01 -> client.host: web01"),
    Derivation("backup_server", "virtual", (("backup_server", "host"), ("host", "platform")), servers,
               "whether its host's platform is virtual", "host platform virtual -> virtual: true"),
    Derivation("backup_server", "vm", (("backup_server", "host"), ("host", "vm")), servers,
               "its host's VM (null on a physical host)", "host.vm nsr01 -> vm: nsr01"),
    Derivation("backup_server", "hosted_roles", (("backup_server", "host"), ("host", "roles")), servers,
               "its host's roles (partial when they are)", "host roles [backup_server, fileserver]"),
    Derivation("backup_server", "hosted_services", (("backup_server", "host"), ("host", "services")), servers,
               "its host's services (partial when they are)", "host services [networker, smb]"),
    Derivation("device", "local_to_server", (("device", "host"), ("device", "backup_server"),
                                             ("backup_server", "host")), devices,
               "whether the device's host is its backup server's host (same id, alias, or short name)",
               "device host bk01, server host bk01.corp -> true"),
    Derivation("device", "on_system_disk", (("device", "vm_disk"), ("backup_server", "vm"), ("vm", "disks")),
               devices, "whether the device lives on the system disk of its backup server's VM (false "
               "when vm_disk is null)", "vm_disk 'Hard disk 1', that disk system: true -> true"),
    Derivation("backup_server", "client_devices_local", (("device", "backup_server"), ("device", "enabled"),
                                                         ("device", "client_data"), ("device", "local_to_server")),
               devices, "its enabled devices local to its host that take client data; unknown when one's "
               "locality or use is", "[aftd-local]"),
    Derivation("backup_server", "latest_bootstrap", (("bootstrap", "backup_server"), ("bootstrap", "time")),
               bootstraps, "its bootstrap with the latest time (null when bootstraps are recorded but none of "
               "this server; unknown when one has no readable time)", "bootstraps b1 (Mon), b2 (Tue) -> b2"),
    Derivation("backup_server", "latest_dr_test", _DR, bootstraps,
               "the most recent dr_test of its host, whatever its result (unknown when one of them has no "
               "readable time or result)", "t1 success (May), t2 failure (June) -> t2"),
    Derivation("backup_server", "last_dr_test", _DR, bootstraps,
               "the time of the latest successful dr_test of its host", "t1 success (May) -> May's time"),
    Derivation("copy", "local_to_server", (*_COPY, ("copy", "offsite"), ("copy", "location_host"),
                                           ("backup_server", "host")), bootstraps,
               "its device's locality; false when offsite: true; else whether location_host is the server's host",
               "copy on device dd01 (local_to_server false) -> false"),
    Derivation("copy", "offline", _COPY, bootstraps, "false on a disk, file, dedup or cloud device",
               "device media_type dedup -> false"),
    Derivation("copy", "immutable", _COPY, bootstraps, "its device's immutable", "dd01 retention lock -> true"),
    Derivation("client", "last_successful_backup", (("client", "last_filesystem_backup"),
                                                    ("client", "last_image_backup"), ("client", "last_bmr_backup")),
               clients, "the latest of its per-level backup times (when the collector gave none)",
               "filesystem Mon, image Tue -> Tue"),
    Derivation("client", "latest_restore_test", (("client", "host"), *_DR[1:]), clients,
               "the latest dr_test of its host of any kind", "t1 (May), t2 (June) -> t2"),
    Derivation("copy", "client", (("client", "latest_backup_copies"),), clients,
               "the client whose latest backup the copy is", "client web01's copy -> web01"),
    Derivation("backup_server", "client_backup_copies", (("client", "backup_server"),
                                                         ("client", "latest_backup_copies"), *_COPY), clients,
               "the copies of its clients' latest backups, each naming its client (partial when a client's "
               "copies are unknown)", "[{device: dd01, client: web01}]"),
    Derivation("host", "protected_by", (("client", "host"), ("client", "backup_server")), clients,
               "the backup servers whose client records name the host", "client web01 of nsr01 -> [nsr01]"),
    Derivation("datastore", "shared", (("datastore", "hosts"),), datastores_and_vms,
               "whether two or more hosts mount it", "hosts [esx01, esx02] -> true"),
    Derivation("disk", "shared", (("vm", "disks"), ("datastore", "shared")), datastores_and_vms,
               "its datastore's shared", "disk on ds-shared01 -> true"),
    Derivation("vm", "eligible_hosts", (("vm", "cluster"), ("vm", "host"), ("vm", "disks"), ("cluster", "hosts"),
                                        ("hypervisor_host", "cluster"), ("hypervisor_host", "connection_state"),
                                        ("hypervisor_host", "maintenance"), ("datastore", "hosts")),
               datastores_and_vms, "the connected hosts outside maintenance in its cluster that mount every "
               "datastore of its disks (VM-host rules are judged by the policies, see VIRT-002)",
               "esx01, esx02 (esx03 in maintenance) -> [esx01, esx02]"),
    Derivation("backup_server", "dependency_closure", (("backup_server", "host"), ("host", "depends_on")),
               dependencies, "every host its host depends on, transitively (unknown when one is undescribed)",
               "bk01 -> dns01 -> ad01: [dns01, ad01]"),
    Derivation("backup_server", "circular_dependencies", (("backup_server", "host"), ("host", "depends_on"),
                                                          ("host", "independent_recovery"), ("client", "host"),
                                                          ("client", "backup_server")), dependencies,
               "the hosts of its dependency closure that only this server protects and that have no "
               "independent_recovery (DR deadlocks on them)",
               "bk01 depends on dns01, dns01 is a client of bk01 only -> [dns01]"),
)

