# VIRT-001: a virtual backup server runs in director mode. One result per server; not virtual: skip.
package policycheck.virt_001

import data.policycheck.lib
import rego.v1

allowed_local_media := []

verdicts := [[s.id, verdict(virtual, local)] |
	some s in input.entities.backup_server
	virtual := lib.step(lib.start(s), "virtual", null)
	local := lib.step(lib.start(s), "client_devices_local", null)
]

verdict(virtual, local) := "error" if virtual.v == lib.absent

verdict(virtual, local) := "skip" if {
	virtual.v != lib.absent
	virtual.v != true
}

verdict(virtual, local) := lib.status[director_mode(local)] if virtual.v == true

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
