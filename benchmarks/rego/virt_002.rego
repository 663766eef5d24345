# VIRT-002: a virtual backup server can move between hypervisor hosts. One result per server; not virtual: skip.
# Reads the derived facts vm.eligible_hosts (connected hosts out of maintenance that mount every disk's
# datastore and that no must-run rule excludes), backup_server.vm and disk.shared, as the engine does.
package policycheck.virt_002

import data.policycheck.lib
import rego.v1

min_hosts := 2

verdicts := [[s.id, verdict(virtual, vm)] |
	some s in input.entities.backup_server
	virtual := lib.step(lib.start(s), "virtual", null)
	vm := lib.step(lib.start(s), "vm", "vm")
]

verdict(virtual, vm) := "error" if virtual.v == lib.absent

verdict(virtual, vm) := "skip" if {
	virtual.v != lib.absent
	virtual.v != true
}

verdict(virtual, vm) := lib.status[mobile(vm)] if virtual.v == true

mobile(vm) := lib.all3([
	lib.count_min(lib.step(vm, "eligible_hosts", null), min_hosts),
	disks_shared(lib.step(vm, "disks", null)),
	lib.empty(lib.step(vm, "passthrough_devices", null)),
	no_must_run_rule(lib.step(vm, "host_rules", null)),
	lib.equals(lib.step(lib.step(vm, "cluster", "cluster"), "ha_enabled", null), true),
	lib.tri(lib.value_or(lib.step(vm, "ha_disabled", null), false) == false),
])

# for_all vm->vm.disks: shared equals true
disks_shared(st) := "u" if st.v == lib.absent

disks_shared(st) := lib.all3([r |
	some d in lib.items(st.v)
	r := lib.equals(lib.step(lib.start(d), "shared", null), true)
]) if st.v != lib.absent

# for_none vm->vm.host_rules: mandatory equals true and enabled (default true) equals true
no_must_run_rule(st) := "u" if st.v == lib.absent

no_must_run_rule(st) := lib.not3[lib.any3([r |
	some rule in lib.items(st.v)
	r := lib.all3([
		lib.equals(lib.step(lib.start(rule), "mandatory", null), true),
		lib.tri(lib.value_or(lib.step(lib.start(rule), "enabled", null), true) == true),
	])
])] if st.v != lib.absent
