#!/usr/bin/env bash
# Installs what the vsphere plugin's tests need on a fresh Debian 12 (run by .ci/run from the repo root,
# as root, after apt-get update, with the test venv active): Go and Debian's govmomi sources, from which
# tools/vcsim/build.sh builds the vCenter simulator the tests start on 127.0.0.1; then the plugin
# (pyVmomi comes from PyPI as its dependency) and its test extras.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    golang-go golang-github-vmware-govmomi-dev ca-certificates
fi
python -m pip install -q -e "$ROOT/plugins/policycheck-vsphere[test]"
python -c "import policycheck_vsphere.plugin, pyVmomi, yaml" >/dev/null
bash "$ROOT/tools/vcsim/build.sh"
