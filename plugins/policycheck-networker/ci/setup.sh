#!/usr/bin/env bash
# Installs what the networker plugin's tests need on a fresh Debian 12 (run from the repo root, as root,
# with the test venv active). The tests talk to an in-process fake NetWorker REST server on 127.0.0.1
# (tests/fakenetworker.py) and generate their TLS certificate with the `cryptography`
# wheel, so no Debian package and no build is needed: only the plugin and its test extras.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python -m pip install -q -e "$HERE[test]"
python -c "import policycheck_networker.plugin, cryptography, yaml" >/dev/null
