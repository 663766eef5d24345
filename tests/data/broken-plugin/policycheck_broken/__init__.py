"""A plugin that raises on import."""
