#!/usr/bin/env bash
# Installs what the bacula plugin's tests need on a fresh Debian 12 (run from the repo root, as root, with
# the test venv active): Debian's Bacula 9.6 director (sqlite3 catalog), storage daemon, file daemon and
# bconsole, and sqlite3. The tests start their own daemons from configs rendered into a temporary
# directory on free loopback ports, so no service is started here (policy-rc.d keeps postinst from
# starting any where an init system exists).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKGS="bacula-director bacula-director-sqlite3 bacula-sd bacula-fd bacula-console sqlite3"

have_all() {
  for b in /usr/sbin/bacula-dir /usr/sbin/bacula-sd /usr/sbin/bacula-fd /usr/sbin/bconsole /usr/bin/sqlite3 \
           /usr/share/bacula-director/make_sqlite3_tables; do
    [ -e "$b" ] || return 1
  done
}

if ! have_all; then
  if [ "$(id -u)" != 0 ]; then
    echo "bacula ci/setup.sh: not root and Bacula is missing; install: apt-get install $PKGS" >&2
    exit 1
  fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS
  have_all
fi
python -m pip install -q -e "$HERE[test]"
python -c "import policycheck_bacula.plugin, yaml" >/dev/null
/usr/sbin/bacula-dir -? 2>&1 | grep -m1 Version || true
