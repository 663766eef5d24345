"""A plugin with a misspelled hook."""
