"""Comparing the recordings of two targets step by step.

Before comparing, every string is normalised: the target's labelled values
(ids of the images, flavors, servers, project and users it made), its
prefix, its endpoint URLs, request ids, other UUIDs and timestamps are
replaced by placeholders. Elements of a collection that carry an id which is
not labelled belong to someone else (other tenants' images and flavors on
the shared realstack, simcloud's preloaded ones) and are left out.

A body is then compared recursively: a key on one side only, a different
JSON type, or (except for the `VOLATILE` keys, whose values depend on the
site) a different normalised value is a `Difference`. Lists of labelled
items are matched by label, and their order is compared separately.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterator

from tests.interop.fidelity.recorder import Exchange

# Keys whose values depend on the site, the moment or the hardware; their
# presence and type are still compared.
VOLATILE = frozenset({
    "hostId", "OS-EXT-SRV-ATTR:instance_name", "OS-EXT-SRV-ATTR:reservation_id",
    "reservation_id", "addr", "OS-EXT-IPS-MAC:mac_addr", "adminPass", "private_key",
    "checksum", "os_hash_value", "OS-EXT-SRV-ATTR:host",
    "OS-EXT-SRV-ATTR:hypervisor_hostname",
    # the roles of the server's creator, in the order its Keystone lists
    # them in a token (its database's order)
    "boot_roles",
})
# Lists whose order Nova does not define (a server group's members come
# from one query per cell, in whatever order the cells are visited).
UNORDERED = frozenset({"members"})
# The same, only in some objects, told by their (normalised) id or name:
# a key pair's database id; the key pair each site generates; the servers
# made together (labelled in the order the site lists them, so which one got
# launch index 0 is by chance).
VOLATILE_IN = (
    ("name", "P-kp-", frozenset({"id"})),
    ("name", "P-kp-gen", frozenset({"public_key", "fingerprint"})),
    ("id", "<server:M", frozenset({"OS-EXT-SRV-ATTR:launch_index"})),
)
UUID = r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b"
_REQUEST_ID = re.compile(r"req-" + UUID)
_UUID = re.compile(UUID)
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_ENUM = re.compile(r"is not one of \[([^]]*)\]")
# Nova names a flavor by its database id in its access-list errors
_FLAVOR_DB_ID = re.compile(r"(Flavor access (?:already exists for flavor|not found for)) \d+\b")
# Steps whose message lists a JSON Schema enum that Nova builds from a Python
# set: its order changes with every nova-api process, so only the set counts.
UNORDERED_ENUM_STEPS = frozenset({"servers.list.bad-sort-key@top"})


def _time_shape(match: re.Match) -> str:
    """A timestamp's format, not its value: `<time.000000>` (whole seconds
    with microseconds shown), `<time.ffffff>`, `<timeZ>`, `<time+00:00>`."""
    fraction, zone = match.group(1) or "", match.group(2) or ""
    if fraction and int(fraction[1:]) != 0:
        fraction = "." + "f" * (len(fraction) - 1)
    return f"<time{fraction}{zone}>"


def sorted_enum(text: str) -> str:
    return _ENUM.sub(lambda m: "is not one of [" + ", ".join(
        sorted(i.strip() for i in m.group(1).split(","))) + "]", text)


HEADER_VALUES = ("content-type", "openstack-api-version", "x-openstack-nova-api-version", "vary",
                 "location", "www-authenticate")


@dataclasses.dataclass(frozen=True)
class Difference:
    step: str
    where: str          # "status", "header x", "body a.b[<server:A>].c", "order servers"
    kind: str           # status | header | only-real | only-sim | type | value | order | step
    real: str
    sim: str

    def key(self) -> str:
        return f"{self.step} | {self.where} | {self.kind}"


class Normalizer:
    def __init__(self, labels: dict[str, str], prefix: str, urls: dict[str, str]) -> None:
        # longest first so that an id inside a URL is replaced before a shorter one
        self.replacements = sorted(labels.items(), key=lambda kv: -len(kv[0]))
        self.exact = labels
        self.prefix = prefix
        self.urls = sorted(urls.items(), key=lambda kv: -len(kv[1]))

    def text(self, value: str) -> str:
        if value in self.exact:
            return self.exact[value]
        for name, url in self.urls:
            value = value.replace(url, f"<{name}>")
        for raw, label in self.replacements:
            if raw and raw in value:
                value = value.replace(raw, label)
        value = value.replace(self.prefix, "P")
        value = _REQUEST_ID.sub("<request-id>", value)
        value = _UUID.sub("<uuid>", value)
        value = _FLAVOR_DB_ID.sub(r"\1 <flavor-db-id>", value)
        return _TIME.sub(_time_shape, value)

    def labelled(self, value: Any) -> bool:
        return isinstance(value, str) and (value in self.exact or self.prefix in value)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


def _identity(element: Any) -> Any:
    """The raw identifying value of a collection element, if it has one."""
    if not isinstance(element, dict):
        return None
    if len(element) == 1 and isinstance(element.get("keypair"), dict):
        return element["keypair"].get("name")
    return element.get("id") if isinstance(element.get("id"), str) else None


# Collections that may hold other tenants' or preloaded resources.
SHARED_COLLECTIONS = frozenset({"servers", "flavors", "images", "keypairs"})


def _own(norm: Normalizer, items: list) -> list:
    """Drops the elements that belong to someone else."""
    return [e for e in items if _identity(e) is None or norm.labelled(_identity(e))]


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 160 else text[:157] + "..."


class Comparison:
    def __init__(self, real: Normalizer, sim: Normalizer) -> None:
        self.real = real
        self.sim = sim

    def exchanges(self, a: list[Exchange], b: list[Exchange]) -> list[Difference]:
        diffs: list[Difference] = []
        by_step = {e.step: e for e in b}
        for ex in a:
            other = by_step.pop(ex.step, None)
            if other is None:
                diffs.append(Difference(ex.step, "step", "step", "run", "not run"))
                continue
            diffs.extend(self.exchange(ex, other))
        for step in by_step:
            diffs.append(Difference(step, "step", "step", "not run", "run"))
        return diffs

    def exchange(self, a: Exchange, b: Exchange) -> Iterator[Difference]:
        step = a.step
        if a.status != b.status:
            yield Difference(step, "status", "status", str(a.status), str(b.status))
        yield from self._headers(step, a.headers, b.headers)
        yield from self._walk(step, "body", a.body, b.body)

    def _headers(self, step: str, a: dict[str, str], b: dict[str, str]) -> Iterator[Difference]:
        for name in sorted(set(a) | set(b)):
            if name not in b:
                yield Difference(step, f"header {name}", "only-real", _short(a[name]), "")
            elif name not in a:
                yield Difference(step, f"header {name}", "only-sim", "", _short(b[name]))
            elif name in HEADER_VALUES:
                va, vb = self._header_value(name, a[name], self.real), \
                    self._header_value(name, b[name], self.sim)
                if va != vb:
                    yield Difference(step, f"header {name}", "header", va, vb)

    @staticmethod
    def _header_value(name: str, value: str, norm: Normalizer) -> str:
        if name == "vary":
            return ", ".join(sorted({v.strip().lower() for v in value.split(",")}))
        return norm.text(value)

    def _walk(self, step: str, where: str, a: Any, b: Any) -> Iterator[Difference]:
        ta, tb = type_name(a), type_name(b)
        if ta != tb:
            yield Difference(step, where, "type", f"{ta}: {self._shown(a, self.real)}",
                             f"{tb}: {self._shown(b, self.sim)}")
            return
        if ta == "dict":
            skipped = self._volatile_keys(a)
            # keys may be site-specific too (host names in zone details)
            a = {self.real.text(k): v for k, v in a.items()}
            b = {self.sim.text(k): v for k, v in b.items()}
            for key in sorted(set(a) | set(b)):
                path = f"{where}.{key}"
                if key not in b:
                    yield Difference(step, path, "only-real", self._shown(a[key], self.real), "")
                elif key not in a:
                    yield Difference(step, path, "only-sim", "", self._shown(b[key], self.sim))
                elif key in skipped:
                    if type_name(a[key]) != type_name(b[key]):
                        yield Difference(step, path, "type", type_name(a[key]), type_name(b[key]))
                else:
                    yield from self._walk(step, path, a[key], b[key])
        elif ta == "list":
            yield from self._list(step, where, a, b)
        elif ta == "str":
            na, nb = self.real.text(a), self.sim.text(b)
            if step in UNORDERED_ENUM_STEPS:
                na, nb = sorted_enum(na), sorted_enum(nb)
            if na != nb:
                yield Difference(step, where, "value", _short(na), _short(nb))
        elif a != b:
            yield Difference(step, where, "value", _short(a), _short(b))

    def _volatile_keys(self, obj: dict) -> frozenset[str]:
        keys = VOLATILE
        for field, start, more in VOLATILE_IN:
            if isinstance(obj.get(field), str) and self.real.text(obj[field]).startswith(start):
                keys = keys | more
        return keys

    def _shown(self, value: Any, norm: Normalizer) -> str:
        return _short(self._norm_any(value, norm))

    def _list(self, step: str, where: str, a: list, b: list) -> Iterator[Difference]:
        name = where.rsplit(".", 1)[-1]
        if name in SHARED_COLLECTIONS:
            a, b = _own(self.real, a), _own(self.sim, b)
        if name in UNORDERED and all(isinstance(e, str) for e in a + b):
            a = sorted(a, key=self.real.text)
            b = sorted(b, key=self.sim.text)
        ids_a = [_identity(e) for e in a]
        ids_b = [_identity(e) for e in b]
        if a and b and all(i is not None for i in ids_a + ids_b):
            labels_a = [self.real.text(i) for i in ids_a]
            labels_b = [self.sim.text(i) for i in ids_b]
            if labels_a != labels_b:
                yield Difference(step, where, "order", ", ".join(labels_a), ", ".join(labels_b))
            by_label = dict(zip(labels_b, b))
            for label, element in zip(labels_a, a):
                if label in by_label:
                    yield from self._walk(step, f"{where}[{label}]", element, by_label[label])
            return
        if len(a) != len(b):
            yield Difference(step, where, "value", f"{len(a)} items: {self._shown(a, self.real)}",
                             f"{len(b)} items: {self._shown(b, self.sim)}")
        for index, (ea, eb) in enumerate(zip(a, b)):
            yield from self._walk(step, f"{where}[{index}]", ea, eb)

    def _norm_any(self, value: Any, norm: Normalizer) -> Any:
        if isinstance(value, str):
            return norm.text(value)
        if isinstance(value, list):
            return [self._norm_any(v, norm) for v in value]
        if isinstance(value, dict):
            return {norm.text(k): self._norm_any(v, norm) for k, v in value.items()}
        return value
