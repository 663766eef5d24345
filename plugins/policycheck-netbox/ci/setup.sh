#!/usr/bin/env bash
# Installs what the netbox plugin's tests need on a fresh Debian 12 (run from the repo root, as root,
# with the test venv active): the plugin itself, Debian's postgresql + redis-server, and a separate
# Python >= 3.12 venv holding the real NetBox application (PyPI `netbox`) for the integration tests.
set -euo pipefail

NETBOX_VERSION="${POLICYCHECK_NETBOX_VERSION:-4.7.3}"
CACHE="${POLICYCHECK_NETBOX_CACHE:-/var/cache/policycheck-netbox}"
VENV="${POLICYCHECK_NETBOX_VENV:-$CACHE/venv-$NETBOX_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  postgresql redis-server libpq-dev gcc libc6-dev openssl

python -m pip install -q -e "$HERE[test]"

# NetBox 4.7 needs Python >= 3.12; Debian 12 ships 3.11, so use pyenv's (present on the machine image).
PY312="${POLICYCHECK_NETBOX_PYTHON:-}"
if [ -z "$PY312" ]; then
  for c in "${PYENV_ROOT:-/root/.pyenv}"/versions/3.1[2-9]*/bin/python3 "$(command -v python3.13 || true)" \
           "$(command -v python3.12 || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
      PY312="$c"; break
    fi
  done
fi
if [ -z "$PY312" ]; then
  echo "ci/setup.sh (netbox): no Python >= 3.12 found (pyenv or python3.12 on PATH); NetBox cannot be installed" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/netbox" ] || [ "$("$VENV/bin/netbox" version 2>/dev/null)" != "$NETBOX_VERSION" ]; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY312" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "netbox==$NETBOX_VERSION"
fi
echo "netbox $("$VENV/bin/netbox" version) in $VENV (python: $PY312)"

# The migrated empty database is kept in the repository (migrate takes ~9 minutes); make it only if absent.
if [ ! -f "$HERE/tests/netbox_server/dumps/netbox-$NETBOX_VERSION-migrated.sql.gz" ]; then
  python "$HERE/tests/netbox_server/nbserver.py" make-dump
fi
