"""A demo policycheck plugin: a CMDB-over-HTTP collector, a CSV reporter, a policy directory."""
