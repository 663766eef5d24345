"""Built-in output formats, one module each, registered through the reporter hook."""
