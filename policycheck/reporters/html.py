"""The ``openmetrics`` format (written below)."""
