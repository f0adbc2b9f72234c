"""The config: a TOML file (and the inventories it names) into validated, frozen :mod:`cockpit.spec` objects.

Every problem is a :class:`~cockpit.errors.ConfigIssue` naming the file, line, key path and a fix.
Parts: ``loader`` (the top level, ``load_config``), ``source`` (reading TOML with lines, ``${ENV}``),
``hosts`` and ``ansible`` (hosts and inventories: ``ansible_model``, ``ansible_formats``), ``services``, ``actions``, ``runbook``,
``commands`` (placeholder values that commands use must be shell-safe), ``sshconf`` (the ssh_config checked at
load, and what each SSH connection will use).
"""

from __future__ import annotations

from cockpit.config.ansible import ansible_inventory_program, load_ansible
from cockpit.config.ansible_formats import expand_host_range
from cockpit.config.loader import ENV_VAR, describe, describe_json, find_config, load_config
from cockpit.config.source import DEFAULT_FILE, key_path
from cockpit.config.watch import ConfigWatch, PlanUpdate

__all__ = [
    "ansible_inventory_program",
    "ConfigWatch",
    "DEFAULT_FILE",
    "ENV_VAR",
    "describe",
    "describe_json",
    "expand_host_range",
    "find_config",
    "key_path",
    "load_ansible",
    "load_config",
    "PlanUpdate",
]
