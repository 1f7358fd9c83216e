"""The flavor extra specs Nova knows, and its check of a spec's value from
microversion 2.86 on.

A spec whose name matches a known rule must have a value of the rule's form
(a boolean, an integer within bounds, one of an enumeration, or text of a
pattern). A spec in a namespace Nova knows (`hw:`, `quota:`, `resources1:`,
...) that matches no rule is refused; any other name (`foo:bar`, no
namespace) is the operator's own business and accepted. The standard trait
and resource class names come from the same libraries Nova reads them from.
"""
from __future__ import annotations

import dataclasses
import functools
import re

import os_resource_classes
import os_traits

from cascade import errors

_BOOLS = {"1", "t", "true", "on", "y", "yes", "0", "f", "false", "off", "n", "no"}
_CPU_SET = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
_GROUP = r"([a-zA-Z0-9_-]{1,64})?"


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str                    # a regular expression over the whole name
    type: type                   # bool, int or str
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    min: int | None = None
    max: int | None = None

    def check(self, value: str) -> None:
        if self.type is bool:
            if value.strip().lower() not in _BOOLS:
                _fail(f"'{value}' is not a valid boolean-like value.")
        elif self.type is int:
            try:
                number = int(value)
            except ValueError:
                _fail(f"'{value}' is not a valid integer value.")
            if self.max is not None and number > self.max:
                _fail(f"'{value}' is greater than the max value of '{self.max}'.")
            if self.min is not None and number < self.min:
                _fail(f"'{value}' is less than the min value of '{self.min}'.")
        elif self.pattern is not None:
            if not re.fullmatch(self.pattern, value):
                _fail(f"'{value}' is not of the format '{self.pattern}'.")
        elif self.enum and value not in self.enum:
            _fail(f"'{value}' is not one of: {', '.join(self.enum)}.")


def _fail(reason: str):
    raise errors.BadRequest(f"Validation failed; {reason}")


def _enum(name: str, *values: str) -> Rule:
    return Rule(name, str, enum=values)


def _int(name: str, minimum: int | None = None, maximum: int | None = None) -> Rule:
    return Rule(name, int, min=minimum, max=maximum)


def _text(name: str, pattern: str | None = None) -> Rule:
    return Rule(name, str, pattern=pattern)


def _hw() -> list[Rule]:
    rules = [Rule(f"hw:{flag}", bool) for flag in (
        "cpu_realtime", "hide_hypervisor_id", "locked_memory", "boot_menu", "vif_multiqueue_enabled",
        "mem_encryption", "pmu", "virtio_packed_ring", "ephemeral_encryption")]
    rules += [_int(f"hw:{count}", 1) for count in (
        "numa_nodes", "cpu_sockets", "cpu_cores", "cpu_threads", "cpu_max_sockets", "cpu_max_cores",
        "cpu_max_threads")]
    rules += [
        _text("hw:cpu_realtime_mask", _CPU_SET), _text("hw:cpu_dedicated_mask", _CPU_SET),
        _text(r"hw:numa_cpus\.\d+", _CPU_SET), _int(r"hw:numa_mem\.\d+", 1),
        _text("hw:mem_page_size", r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
        _text("hw:pmem", r"([a-zA-Z0-9_]+(,)?)+"),
        _int("hw:serial_port_count", 0), _int("hw:redirected_usb_ports", 0, 15),
        _enum("hw:cpu_policy", "dedicated", "shared", "mixed"),
        _enum("hw:cpu_thread_policy", "prefer", "isolate", "require"),
        _enum("hw:emulator_threads_policy", "isolate", "share"),
        _enum("hw:pci_numa_affinity_policy", "required", "preferred", "legacy", "socket"),
        _enum("hw:mem_encryption_model", "amd-sev", "amd-sev-es", "amd-sev-snp"),
        _enum("hw:tpm_model", "tpm-tis", "tpm-crb"),
        _enum("hw:tpm_version", "1.2", "2.0"),
        _enum("hw:tpm_secret_security", "user", "host", "deployment"),
        _enum("hw:watchdog_action", "none", "pause", "poweroff", "reset", "disabled"),
        _enum("hw:viommu_model", "intel", "smmuv3", "virtio", "auto"),
        _enum("hw:sound_model", "sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"),
        _enum("hw:usb_model", "none", "nec-xhci", "qemu-xhci"),
        _enum("hw:ephemeral_encryption_format", "plain", "luks", "luksv2"),
    ]
    return rules


def _quota() -> list[Rule]:
    rules = [_int("quota:cpu_shares", 0), _int("quota:cpu_period", 0), _int("quota:cpu_quota")]
    for key in ("cpu", "memory", "disk_io", "vif"):
        rules += [_int(f"quota:{key}_limit", 0), _int(f"quota:{key}_reservation"),
                  _enum(f"quota:{key}_shares_level", "custom", "high", "normal", "low"),
                  _int(f"quota:{key}_shares_share", 0)]
    rules += [_int(f"quota:disk_{stat}_{metric}_sec", 0)
              for stat in ("read", "write", "total") for metric in ("bytes", "iops")]
    rules += [_int(f"quota:vif_{stat}_{metric}", 0)
              for stat in ("inbound", "outbound") for metric in ("average", "peak", "burst")]
    return rules


# compute node and host state fields the capabilities filter matches on
_CAPABILITIES = (
    "id", "uuid", "service_id", "host", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
    "local_gb_used", "hypervisor_type", "hypervisor_version", "hypervisor_hostname", "free_ram_mb",
    "free_disk_gb", "current_workload", "running_vms", "disk_available_least", "host_ip", "mapped",
    "cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio", "total_usable_ram_mb",
    "total_usable_disk_gb", "disk_mb_used", "free_disk_mb", "vcpus_total", "num_instances", "num_io_ops",
    "failed_builds", "aggregates", "cell_uuid", "updated")
_NESTED_CAPABILITIES = (
    "cpu_info", "metrics", "stats", "numa_topology", "supported_hv_specs", "pci_device_pools", "nodename",
    "pci_stats", "supported_instances", "limits", "instances")


def _placement() -> list[Rule]:
    rules = [_int(f"resources{_GROUP}:CUSTOM_[A-Z0-9_]+"),
             _enum(f"trait{_GROUP}:CUSTOM_[A-Z0-9_]+", "required", "forbidden")]
    rules += [_int(f"resources{_GROUP}:{name}") for name in os_resource_classes.STANDARDS]
    rules += [_enum(f"trait{_GROUP}:{name}", "required", "forbidden") for name in os_traits.get_traits()]
    return rules


@functools.lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, Rule], tuple[Rule, ...], tuple[str, ...]]:
    rules = _hw() + _quota() + _placement() + [
        Rule("hw_rng:allowed", bool), _int("hw_rng:rate_bytes", 0), _int("hw_rng:rate_period", 0),
        _int("hw_video:ram_max_mb", 0),
        Rule("hide_hypervisor_id", bool), _enum("group_policy", "isolate", "none"),
        _enum("os:secure_boot", "disabled", "required"),
        _text("pci_passthrough:alias", r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
        _text("accel:device_profile"), _text("aggregate_instance_extra_specs:.+"),
        _text("vmware:hw_version"), _text("vmware:storage_policy"),
    ]
    rules += [_text(f"capabilities:{name}") for name in _CAPABILITIES]
    rules += [_text(rf"capabilities:{name}(:\w+)*") for name in _NESTED_CAPABILITIES]
    exact = {rule.name: rule for rule in rules if re.escape(rule.name) == rule.name}
    namespaces = tuple(dict.fromkeys(rule.name.split(":", 1)[0] for rule in rules if ":" in rule.name))
    return exact, tuple(rules), namespaces


def validate(name: str, value: str) -> None:
    """Raise Nova's 400 for a known spec with a bad value, or an unknown
    spec in a namespace Nova owns."""
    exact, rules, namespaces = _registry()
    rule = exact.get(name) or next((r for r in rules if re.fullmatch(r.name, name)), None)
    if rule is not None:
        rule.check(value)
        return
    if ":" not in name:
        return
    prefix = name.split(":", 1)[0]
    if any(re.fullmatch(namespace, prefix) for namespace in namespaces):
        _fail(f"extra spec '{name}' does not appear to be a valid extra spec.")
