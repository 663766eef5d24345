"""policycheck-networker: a read-only collector for Dell NetWorker's REST API."""
__version__ = "0.1.0"
