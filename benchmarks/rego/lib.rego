# Shared helpers for the Rego versions of four built-in policies (benchmarks only).
# Three-valued leaves, as policycheck's engine: "t" (holds), "f" (does not), "u" (unknown: a fact is missing).
# A reference is followed by an id lookup in an object built once per query (hosts, vms, ...).
package policycheck.lib

import rego.v1

absent := "\u0000absent"

now_ns := time.parse_rfc3339_ns(input.collected_at)

hosts := {e.id: e | some e in input.entities.host}

vms := {e.id: e | some e in input.entities.vm}

bootstraps := {e.id: e | some e in input.entities.bootstrap}

devices := {e.id: e | some e in input.entities.device}

clusters := {e.id: e | some e in input.entities.cluster}

tri(true) := "t"

tri(false) := "f"

# any: "t" if one holds, else "u" if one is unknown, else "f"
any3(xs) := "t" if "t" in xs

any3(xs) := "u" if {
	not "t" in xs
	"u" in xs
}

any3(xs) := "f" if {
	not "t" in xs
	not "u" in xs
}

# all: "f" if one fails, else "u" if one is unknown, else "t"
all3(xs) := "f" if "f" in xs

all3(xs) := "u" if {
	not "f" in xs
	"u" in xs
}

all3(xs) := "t" if {
	not "f" in xs
	not "u" in xs
}

# none: the negation of any (unknown stays unknown)
not3 := {"t": "f", "f": "t", "u": "u"}

status := {"t": "pass", "f": "fail", "u": "error"}

# a source said the attribute is unknown, or sources disagree on it (not merely absent)
explicit(v, attr) if object.get(object.get(v, "_unknown", {}), attr, absent) != absent

explicit(v, attr) if object.get(object.get(v, "_conflicts", {}), attr, absent) != absent

# One step of a fact path, as policycheck resolves it. A state is {"v": value, "explicit": bool}: v is
# `absent` when the fact is missing, and explicit says a source reported it unknown (not merely absent).
# idx: the kind to follow a reference into ("host", "vm", ...), or null for a plain attribute.
start(e) := {"v": e, "explicit": false}

step(st, name, idx) := st if st.v == absent

step(st, name, idx) := {"v": null, "explicit": false} if st.v == null

step(st, name, idx) := {"v": absent, "explicit": false} if {
	st.v != absent
	st.v != null
	not is_object(st.v)
}

step(st, name, idx) := {"v": absent, "explicit": true} if {
	is_object(st.v)
	object.get(st.v, name, absent) == absent
	explicit(st.v, name)
}

step(st, name, idx) := {"v": absent, "explicit": false} if {
	is_object(st.v)
	object.get(st.v, name, absent) == absent
	not explicit(st.v, name)
}

step(st, name, idx) := {"v": x, "explicit": false} if {
	is_object(st.v)
	x := object.get(st.v, name, absent)
	x != absent
	follow(x, idx) == false
}

step(st, name, idx) := {"v": lookup(idx, x), "explicit": false} if {
	is_object(st.v)
	x := object.get(st.v, name, absent)
	follow(x, idx) == true
}

# idx names the kind: passing the id -> entity object itself as an argument makes regopy copy it per call
lookup("host", x) := object.get(hosts, x, absent)

lookup("vm", x) := object.get(vms, x, absent)

lookup("bootstrap", x) := object.get(bootstraps, x, absent)

lookup("device", x) := object.get(devices, x, absent)

lookup("cluster", x) := object.get(clusters, x, absent)

follow(x, idx) := false if idx == null

follow(x, idx) := false if x == null

follow(x, idx) := true if {
	idx != null
	x != null
	x != absent
}

# leaves on a state
# "exists: true": absent is "f", unless a source said it is unknown ("u")
exists(st) := "t" if {
	st.v != absent
	st.v != null
}

exists(st) := "f" if st.v == null

exists(st) := "f" if {
	st.v == absent
	st.explicit == false
}

exists(st) := "u" if {
	st.v == absent
	st.explicit == true
}

# "empty: false"
not_empty(st) := "u" if st.v == absent

not_empty(st) := "f" if st.v == null

not_empty(st) := tri(count(st.v) > 0) if {
	st.v != absent
	st.v != null
}

# "equals: x": absent is "u" (without a default)
equals(st, x) := "u" if st.v == absent

equals(st, x) := tri(st.v == x) if st.v != absent

# a leaf's "default: d": the value when the fact is missing (merely absent or reported unknown)
value_or(st, d) := d if st.v == absent

value_or(st, d) := st.v if st.v != absent

# what has a length: a list, an object, a string
countable(v) if is_array(v)

countable(v) if is_object(v)

countable(v) if is_string(v)

# "empty: true": absent is "u", null is empty, a value without a length is not
empty(st) := "u" if st.v == absent

empty(st) := "t" if st.v == null

empty(st) := tri(count(st.v) == 0) if {
	st.v != absent
	countable(st.v)
}

empty(st) := "f" if {
	st.v != null
	not countable(st.v)
}

# "count: {min: n}": absent is "u", null counts 0, a value without a length is "u"
count_min(st, n) := "u" if st.v == absent

count_min(st, n) := tri(0 >= n) if st.v == null

count_min(st, n) := tri(count(st.v) >= n) if {
	st.v != absent
	countable(st.v)
}

count_min(st, n) := "u" if {
	st.v != null
	not countable(st.v)
}

# "within: max_s" on a time attribute: absent is "u", null is "f"
within(v, max_s) := "u" if v == absent

within(v, max_s) := "f" if v == null

within(v, max_s) := tri(now_ns - time.parse_rfc3339_ns(v) <= max_s * 1000000000) if {
	v != absent
	is_string(v)
}

# a quantifier's items: null is an empty list, a single value a list of one
items(v) := [] if v == null

items(v) := v if is_array(v)

items(v) := [v] if {
	v != null
	not is_array(v)
}
