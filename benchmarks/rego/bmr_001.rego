# BMR-001: every protected client has a bare-metal-recovery path. One result per client (array comprehension).
package policycheck.bmr_001

import data.policycheck.lib
import rego.v1

day := 86400

verdicts := [[c.id, lib.status[r]] |
	some c in input.entities.client
	h := lib.step(lib.start(c), "host", "host")
	v := lib.step(h, "vm", "vm")
	r := lib.any3([
		lib.within(object.get(c, "last_image_backup", lib.absent), 31 * day),
		lib.within(object.get(c, "last_bmr_backup", lib.absent), 31 * day),
		lib.not_empty(lib.step(h, "bmr_methods", null)),
		lib.exists(lib.step(v, "template", null)),
		recent_snapshot(lib.step(v, "snapshots", null)),
	])
]

# for_any host->host.vm->vm.snapshots: time within 7d
recent_snapshot(st) := "u" if st.v == lib.absent

recent_snapshot(st) := lib.any3([r |
	some s in lib.items(st.v)
	r := lib.within(lib.step(lib.start(s), "time", null).v, 7 * day)
]) if st.v != lib.absent
