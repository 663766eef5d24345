"""The plugin manager factory: built-ins and entry-point plugins registered through the same hooks,
each loaded on its own so that one broken plugin is named and does not take the others down."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from policycheck import hookspecs
from policycheck.errors import ConfigError
from policycheck.textutil import suggest

if TYPE_CHECKING:
    from policycheck.api import Collector, Reporter

GROUP = "policycheck"
#: the collectors published with policycheck and the distribution that provides each: an install hint
#: names one of these, never a package name made up from a typo
KNOWN_COLLECTORS = {"networker": "policycheck-networker", "bacula": "policycheck-bacula",
                    "vsphere": "policycheck-vsphere", "ansible": "policycheck-ansible",
                    "netbox": "policycheck-netbox"}


class PluginConfigError(ConfigError):
    """A plugin named in the invocation or config that does not exist (exit 2: nothing evaluated)."""
BUILTINS = ("policycheck.collectors.file", "policycheck.reporters.text", "policycheck.reporters.json",
            "policycheck.reporters.junit", "policycheck.reporters.markdown", "policycheck.reporters.sarif",
            "policycheck.reporters.openmetrics", "policycheck.reporters.html", "policycheck.reporters.github",
            "policycheck.derivations.plugin")


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str = ""
    builtin: bool = False
    collectors: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)
    derivations: list[str] = field(default_factory=list)  # "kind.attribute" each produces
    error: str | None = None


@dataclass
class Plugins:
    """The loaded plugins and what they provide."""

    pm: pluggy.PluginManager
    infos: list[PluginInfo]
    collectors: dict[str, Collector]
    reporters: dict[str, Reporter]
    disabled: list[str]

    def errors(self) -> list[PluginInfo]:
        return [i for i in self.infos if i.error]

    def policy_dirs(self) -> list[str | os.PathLike[str]]:
        out: list[str | os.PathLike[str]] = []
        for res in self.pm.hook.policycheck_policy_dirs():
            out.extend(res or [])
        return out

    def why_missing_collector(self, name: str) -> tuple[str, bool]:
        """(why no collector ``name`` is loaded, whether that is a configuration mistake). A plugin that
        failed to load or was disabled is the environment's state (its sources give ``error``); a name
        that no plugin has is a mistake in the config (exit 2)."""
        for i in self.infos:
            if i.name == name and i.error:
                if i.error == "disabled":
                    return f"plugin '{name}' is disabled (--disable-plugin / POLICYCHECK_DISABLE_PLUGINS)", False
                return f"plugin '{name}' failed to load: {i.error}", False
        if name in self.disabled:
            return f"plugin '{name}' is disabled (--disable-plugin / POLICYCHECK_DISABLE_PLUGINS)", False
        unavailable = [i.name for i in self.infos if i.error and not i.builtin]
        if unavailable:  # the collector may belong to a plugin that is disabled or failed to load
            return (f"no loaded plugin provides a collector named '{name}'" + suggest(name, self.collectors)
                    + f"; plugins disabled or not loaded: {', '.join(unavailable)}"), False
        known = sorted(set(self.collectors) | set(KNOWN_COLLECTORS))
        hint = suggest(name, known)
        if name in KNOWN_COLLECTORS:
            install = f"; install it: pip install {KNOWN_COLLECTORS[name]}"
        else:
            guess = difflib_best(name, known)
            install = (f"; '{guess}' comes with {KNOWN_COLLECTORS[guess]}" if guess in KNOWN_COLLECTORS
                       and guess not in self.collectors else "")
        return (f"no installed plugin provides a collector named '{name}'" + hint
                + f" (installed collectors: {', '.join(sorted(self.collectors)) or 'none'}{install})"), True


def difflib_best(word: object, choices: Iterable[str]) -> str | None:
    import difflib

    m = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return m[0] if m else None


def _short(modname: str) -> str:
    """A built-in's short name: its module's (a package's ``plugin`` module: the package's)."""
    parts = modname.split(".")
    return parts[-2] if parts[-1] == "plugin" else parts[-1]


def make_plugins(disabled: Iterable[str] = (), load_entry_points: bool = True) -> Plugins:
    """Build a fresh plugin manager: hookspecs, built-ins, then third-party entry points."""
    disabled = list(disabled) + [d.strip() for d in os.environ.get("POLICYCHECK_DISABLE_PLUGINS", "").split(",")
                                 if d.strip()]
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for modname in BUILTINS:
        short = _short(modname)
        info = PluginInfo(name=f"builtin-{short}", module=modname, builtin=True)
        infos.append(info)
        if short in disabled or info.name in disabled:
            info.error = "disabled"
            continue
        _register(pm, info, partial(import_module, modname))
    if load_entry_points and os.environ.get("POLICYCHECK_NO_ENTRY_POINTS") != "1":
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(name=ep.name, module=ep.value, version=getattr(dist, "version", "") or "")
            infos.append(info)
            if ep.name in disabled:
                info.error = "disabled"
                continue
            _register(pm, info, ep.load)
    collectors: dict[str, Collector] = {}
    reporters: dict[str, Reporter] = {}
    bucket: dict[str, Any]
    for info in infos:
        if info.error:
            continue
        plugin = pm.get_plugin(info.name)
        for hook, bucket, names in (("policycheck_collectors", collectors, info.collectors),
                                    ("policycheck_reporters", reporters, info.reporters)):
            impl = getattr(plugin, hook, None)
            if impl is None:
                continue
            try:
                items = impl() or []
            except Exception as exc:  # a broken hook names its plugin, the rest go on
                info.error = f"{hook}() raised {type(exc).__name__}: {exc}"
                continue
            for item in items:
                if item.name in bucket:
                    info.error = f"{hook}: '{item.name}' is already provided by another plugin"
                    continue
                bucket[item.name] = item
                names.append(item.name)
        impl = getattr(plugin, "policycheck_derivations", None)
        if impl is not None and not info.error:
            try:
                info.derivations = [f"{d.kind}.{d.attr}" for d in impl() or []]
            except Exception as exc:  # named here; derive() reports it again when a run needs it
                info.error = f"policycheck_derivations() raised {type(exc).__name__}: {exc}"
    plugin_names = {i.name for i in infos} | {_short(i.module) for i in infos if i.builtin}
    for d in disabled:
        if d not in plugin_names:
            where = "--disable-plugin" if d not in os.environ.get("POLICYCHECK_DISABLE_PLUGINS", "") \
                else "POLICYCHECK_DISABLE_PLUGINS"
            raise PluginConfigError(f"{where} '{d}': no such plugin" + suggest(d, sorted(plugin_names))
                                    + f" (plugins: {', '.join(sorted(plugin_names))}; see `policycheck plugins`)")
    return Plugins(pm=pm, infos=infos, collectors=collectors, reporters=reporters, disabled=disabled)


def _register(pm: pluggy.PluginManager, info: PluginInfo, load: Callable[[], Any]) -> None:
    try:
        module = load()
    except Exception as exc:  # ImportError, SyntaxError, anything a third party raises on import
        info.error = f"failed to import {info.module}: {type(exc).__name__}: {exc}"
        return
    known = {n for n in dir(hookspecs) if n.startswith("policycheck_")}
    for attr in dir(module):
        if attr.startswith("policycheck_") and attr not in known and callable(getattr(module, attr)):
            info.error = f"implements unknown hook '{attr}'" + suggest(attr, known)
            return
    try:
        pm.register(module, name=info.name)
    except Exception as exc:  # pluggy.PluginValidationError: wrong arguments, ...
        info.error = f"invalid plugin: {exc}"
        return
    if not info.version and not info.builtin:
        info.version = ""
    if info.builtin:
        from policycheck import __version__

        info.version = __version__
