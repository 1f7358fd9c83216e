"""tests/functional/test_instance_actions.py, run through the cascade in front of real
OpenStack (realstack's two regions) instead of simcloud."""
from __future__ import annotations

import pytest

from tests.functional.test_instance_actions import *  # noqa: F401,F403

pytestmark = pytest.mark.interop
