"""policycheck collector for VMware vSphere (vCenter/ESXi over SOAP with pyVmomi, read-only)."""
