# BOOT-002: a copy of the latest bootstrap is on a device not local to the backup server. One result per server.
package policycheck.boot_002

import data.policycheck.lib
import rego.v1

verdicts := [[s.id, lib.status[r]] |
	some s in input.entities.backup_server
	b := lib.step(lib.start(s), "latest_bootstrap", "bootstrap")
	r := lib.all3([lib.exists(b), copy_off_server(lib.step(b, "copies", null))])
]

# for_any latest_bootstrap->bootstrap.copies: local_to_server equals false
copy_off_server(st) := "u" if st.v == lib.absent

copy_off_server(st) := lib.any3([r |
	some c in lib.items(st.v)
	r := not_local(lib.step(lib.start(c), "local_to_server", null))
]) if st.v != lib.absent

not_local(st) := "u" if st.v == lib.absent

not_local(st) := lib.tri(st.v == false) if st.v != lib.absent
