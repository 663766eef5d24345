#!/usr/bin/env bash
# CI bootstrap for policycheck-ansible: run from the repo root, as root, on Debian 12, venv active.
# No Debian package is needed: ansible-core (which provides ansible-inventory and ansible-vault)
# comes from PyPI as a test dependency; the collector only runs the ansible-inventory executable.
set -euo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || pwd)"
python -m pip install --quiet -e plugins/policycheck-ansible
# test dependencies (tested with ansible-core 2.19.14 on Python 3.11)
python -m pip install --quiet "ansible-core>=2.15" "pytest>=7" "jsonschema>=4.18"
ver="$("$(dirname "$(command -v python)")/ansible-inventory" --version)"
echo "policycheck-ansible: ${ver%%$'\n'*}"
