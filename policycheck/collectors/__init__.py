"""Built-in collectors, registered through the same collector hook third-party plugins use."""
