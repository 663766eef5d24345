"""policycheck-bacula: a read-only collector for Bacula directors (bconsole), registered as plugin ``bacula``."""
__version__ = "0.1.0"
