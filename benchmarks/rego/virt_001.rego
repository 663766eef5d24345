# VIRT-001: a virtual backup server runs in director mode. One result per server; not virtual: skip.
package policycheck.virt_001

import data.policycheck.lib
import rego.v1

allowed_local_media := []

verdicts := [[s.id, verdict(virtual, local, pt)] |
	some s in input.entities.backup_server
	virtual := lib.step(lib.start(s), "virtual", null)
	local := lib.step(lib.start(s), "client_devices_local", null)
	pt := lib.step(lib.step(lib.start(s), "vm", "vm"), "passthrough_devices", null)
]

verdict(virtual, local, pt) := "error" if virtual.v == lib.absent

verdict(virtual, local, pt) := "skip" if {
	virtual.v != lib.absent
	virtual.v != true
}

verdict(virtual, local, pt) := lib.status[lib.all3([director_mode(local), no_tape(pt)])] if virtual.v == true

# for_none vm->vm.passthrough_devices: class in [tape, changer]
no_tape(st) := "u" if st.v == lib.absent

no_tape(st) := lib.not3[lib.any3([r |
	some d in lib.items(st.v)
	r := tape(lib.step(lib.start(d), "class", null))
])] if st.v != lib.absent

tape(st) := "u" if st.v == lib.absent

tape(st) := lib.tri(st.v in ["tape", "changer"]) if st.v != lib.absent

# for_all client_devices_local->device: media_type in allowed_local_media
director_mode(st) := "u" if st.v == lib.absent

director_mode(st) := "u" if {
	st.v != lib.absent
	some id in lib.items(st.v)
	object.get(lib.devices, id, lib.absent) == lib.absent
}

director_mode(st) := lib.all3([r |
	some id in lib.items(st.v)
	r := allowed(lib.step(lib.start(lib.devices[id]), "media_type", null))
]) if {
	st.v != lib.absent
	every id in lib.items(st.v) {
		object.get(lib.devices, id, lib.absent) != lib.absent
	}
}

allowed(st) := "u" if st.v == lib.absent

allowed(st) := lib.tri(st.v in allowed_local_media) if st.v != lib.absent
