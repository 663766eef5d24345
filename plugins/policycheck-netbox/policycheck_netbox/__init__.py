"""policycheck collector for NetBox: reads devices, VMs, IPAM services and addresses into host facts."""
