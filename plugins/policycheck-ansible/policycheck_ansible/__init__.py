"""policycheck-ansible: turns `ansible-inventory --list` output into policycheck host facts."""

__version__ = "0.1.0"
