"""The collector kit: what every collector plugin shares (HTTP client, subprocess runner, host names).

Modules: :mod:`policycheck.kit.http` (``HttpClient``, ``HttpError``), :mod:`policycheck.kit.proc`
(``run`` with a deadline that kills the process group), :mod:`policycheck.kit.names` (``norm_host``,
``short_name``, ``is_fqdn``). docs/plugins.md, "Collector kit", documents each public name."""
