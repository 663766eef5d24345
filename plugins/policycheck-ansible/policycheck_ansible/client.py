"""Transport: runs the real `ansible-inventory -i SOURCE... --list` (no vault password, bounded time), returns its JSON."""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policycheck.api import CollectorError
from policycheck.kit import proc

# Variables that could hand ansible-inventory a vault password or make it prompt for one.
_VAULT_ENV = (
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "ANSIBLE_VAULT_IDENTITY_LIST",
    "ANSIBLE_VAULT_IDENTITY",
    "ANSIBLE_ASK_VAULT_PASS",
    "ANSIBLE_VAULT_ID_MATCH",
)
_VAULT_CFG_KEYS = ("vault_password_file", "vault_identity_list", "ask_vault_pass", "vault_identity")
_VAULT_BLOCK = re.compile(r"\$ANSIBLE_VAULT;[^\s\"']*(?:\\n|\s)*(?:[0-9a-fA-F]+(?:\\n|\s)*)*")
_STDERR_MAX = 4000


def find_binary(setting: str | None) -> str:
    """The ansible-inventory executable: the ``ansible_inventory`` setting, PATH, or beside this Python."""
    name = setting or "ansible-inventory"
    if os.sep in name:
        p = Path(os.path.expanduser(name))
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
        raise CollectorError(
            f"ansible-inventory not found or not executable at {p} (setting ansible_inventory); "
            "install ansible-core (pip install ansible-core) or fix the path")
    found = shutil.which(name)
    if not found:
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            found = str(beside)
    if not found:
        raise CollectorError(
            f"{name} not found on PATH nor beside {sys.executable}: install ansible-core "
            "(pip install ansible-core, or apt-get install ansible-core) or set ansible_inventory: "
            "/path/to/ansible-inventory in this source")
    return found


def scrub(text: str, redact: Callable[[str], str], limit: int | None = _STDERR_MAX) -> str:
    """stderr made safe to report: vault ciphertext removed, secrets redacted, length bounded."""
    text = _VAULT_BLOCK.sub("$ANSIBLE_VAULT;<ciphertext removed>", text or "")
    text = redact(text).strip()
    if limit and len(text) > limit:
        text = text[:_STDERR_MAX] + " ...[truncated]"
    return text


def condense(stderr: str) -> str:
    """The gist of ansible's stderr: its [ERROR] lines, the first parse reason and the first located
    origin; ansible repeats every parse failure once per inventory plugin tried."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("[ERROR]", "ERROR!"))]
    if not errors:
        out: list[str] = []
        for ln in lines:
            if ln not in out and ln not in ("<<< caused by >>>",):
                out.append(ln)
        return "\n".join(out)
    warning = next((ln for ln in lines if ln.startswith("[WARNING]: Failed to parse")), None)
    origin = next((ln for ln in lines if ln.startswith("Origin:") and re.search(r":\d+:\d+$", ln)), None)
    picked = [ln for ln in (warning, origin) if ln] + errors
    return "\n".join(dict.fromkeys(picked))


def _check_config(path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise CollectorError(f"cannot read ansible_config {path}: {exc}") from None
    for section in parser.sections():
        for key in _VAULT_CFG_KEYS:
            if parser.has_option(section, key) and parser.get(section, key).strip():
                raise CollectorError(
                    f"ansible_config {path} sets [{section}] {key}: policycheck never decrypts vaulted "
                    "data; use an ansible.cfg without vault settings for this source")


def build_env(ansible_config: Path | None, scratch: Path) -> dict[str, str]:
    """The environment for ansible-inventory: no vault variables, an isolated config and home."""
    env = {k: v for k, v in os.environ.items() if k not in _VAULT_ENV}
    if ansible_config is None:
        empty = scratch / "ansible.cfg"
        empty.write_text("# policycheck: isolate ansible-inventory from ambient ansible.cfg\n")
        ansible_config = empty
    env.update({
        "ANSIBLE_CONFIG": str(ansible_config),
        # a source that no inventory plugin can parse must fail, not yield an empty inventory
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(scratch / "tmp"),
        "ANSIBLE_HOME": str(scratch / "home"),
        "ANSIBLE_INVENTORY_CACHE": "False",
    })
    return env


def run_inventory(sources: list[str], *, binary: str | None, ansible_config: str | None, base_dir: str,
                  timeout: float, redact: Callable[[str], str], limit: str | None = None,
                  log: Callable[[str], None] = lambda msg: None, deadline: float | None = None) -> dict[str, Any]:
    """Run ansible-inventory over ``sources`` and return its parsed ``--list`` JSON.

    Runs through policycheck.kit.proc (own process group, killed whole at ``timeout`` seconds or the
    ``deadline``, a time.monotonic() value). Raises CollectorError when the binary is missing, it fails,
    times out or prints invalid JSON.
    """
    exe = find_binary(binary)
    base = Path(base_dir or ".")
    paths = []
    for s in sources:
        p = Path(os.path.expanduser(s))
        if not p.is_absolute():
            p = base / p
        if not p.exists():
            raise CollectorError(f"inventory source {p} does not exist (setting inventory); fix the path "
                                 f"(relative paths are taken from {base.resolve()})")
        paths.append(str(p))
    cfg = None
    if ansible_config:
        cfg = Path(os.path.expanduser(ansible_config))
        if not cfg.is_absolute():
            cfg = base / cfg
        if not cfg.is_file():
            raise CollectorError(f"ansible_config {cfg} does not exist")
        _check_config(cfg)
    cmd = [exe]
    for path in paths:
        cmd += ["-i", path]
    if limit:
        cmd += ["--limit", limit]
    cmd.append("--list")
    shown = " ".join(["ansible-inventory"] + cmd[1:])
    with tempfile.TemporaryDirectory(prefix="policycheck-ansible-") as scratch:
        env = build_env(cfg, Path(scratch))
        try:
            done = proc.run(cmd, timeout=timeout, deadline=deadline, env=env, cwd=str(base),
                            what="ansible-inventory")
        except proc.ProcTimeout as exc:
            raise CollectorError(
                f"`{redact(shown)}` did not finish within {exc.seconds:.0f}s (source timeout); a dynamic "
                "inventory script or plugin may hang: run the command by hand, or raise timeout") from None
        except proc.CommandNotFound:
            raise CollectorError(f"cannot start {exe}: not found or not executable; check the "
                                 "ansible_inventory setting and that ansible-core is installed") from None
    full_stderr = scrub(done.stderr, redact, limit=None)
    stderr = scrub(condense(full_stderr), redact)
    if done.returncode != 0:
        log(f"ansible-inventory stderr:\n{full_stderr}")
        if "vault" in stderr.lower():
            hint = ("a vault-encrypted vars file or value needed a password; policycheck never decrypts: "
                    "vault single variables (ansible-vault encrypt_string) so the others stay readable")
        else:
            hint = "fix the inventory (run the same command by hand to reproduce)"
        raise CollectorError(
            f"`{redact(shown)}` failed with exit code {done.returncode}: {stderr or '(no stderr)'} -- {hint}")
    if "\ufffd" in done.stdout:
        raise CollectorError(f"`{redact(shown)}` printed output that is not UTF-8; stderr: {stderr or '(empty)'}")
    try:
        data = json.loads(done.stdout)
    except (json.JSONDecodeError, RecursionError) as exc:
        head = scrub(done.stdout[:200], redact)
        raise CollectorError(
            f"`{redact(shown)}` printed invalid JSON ({exc}); output starts with {head!r}; "
            f"stderr: {stderr or '(empty)'}") from None
    if not isinstance(data, dict) or not isinstance(data.get("_meta", {}), dict) or "all" not in data:
        raise CollectorError(f"`{redact(shown)}` printed JSON without the 'all' group / '_meta' of "
                             "ansible-inventory --list output")
    return data
