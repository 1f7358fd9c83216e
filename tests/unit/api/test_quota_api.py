"""The quota front's pure parts: which keys each microversion shows or
accepts, and Nova's wording of body and query errors (numbers written as
strings are bounded too)."""
from __future__ import annotations

import pytest

from cascade import errors
from cascade.api.compute.quotas import _body_schema, _validate, quota_class_keys, quota_set_keys

NETWORK = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
FILES = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
GROUPS = {"server_groups", "server_group_members"}


@pytest.mark.parametrize("version, missing", [("2.1", set()), ("2.35", set()), ("2.36", NETWORK),
                                              ("2.56", NETWORK), ("2.57", NETWORK | FILES), ("2.96", NETWORK | FILES)])
def test_quota_set_keys_drop_network_then_files(version, missing):
    keys = quota_set_keys(version)
    assert keys == sorted(keys) and len(keys) == 14 - len(missing) and not missing & set(keys)


def test_quota_class_keys_show_server_groups_only_from_2_50():
    assert GROUPS.isdisjoint(quota_class_keys("2.49", shown=True))
    assert GROUPS <= set(quota_class_keys("2.49", shown=False)) and NETWORK <= set(quota_class_keys("2.49", shown=True))
    assert GROUPS <= set(quota_class_keys("2.50", shown=True)) and NETWORK.isdisjoint(quota_class_keys("2.50", shown=True))
    assert FILES.isdisjoint(quota_class_keys("2.57", shown=False))


@pytest.mark.parametrize("value, message", [
    ("-2", "Invalid input for field/attribute ram. Value: -2. -2 is less than the minimum of -1"),
    (2147483648, "Invalid input for field/attribute ram. Value: 2147483648. "
                 "2147483648 is greater than the maximum of 2147483647"),
    ("abc", "Invalid input for field/attribute ram. Value: abc. 'abc' does not match '^-?[0-9]+$'"),
    (True, "Invalid input for field/attribute ram. Value: True. True is not of type 'integer', 'string'"),
])
def test_bad_limits_are_worded_as_nova_words_them(value, message):
    with pytest.raises(errors.BadRequest) as refused:
        _validate({"quota_set": {"ram": value}}, _body_schema("quota_set", ["ram"], force=True))
    assert refused.value.message == message


def test_good_limits_and_force_pass():
    _validate({"quota_set": {"ram": "5120", "cores": -1, "force": "True"}},
              _body_schema("quota_set", ["ram", "cores"], force=True))
    with pytest.raises(errors.BadRequest, match="^'quota_set' is a required property$"):
        _validate({}, _body_schema("quota_set", ["ram"]))
