"""tests/functional/test_microversions_2_9x.py, run through the cascade in
front of real OpenStack (realstack's two regions, Nova 34)."""
from __future__ import annotations

import pytest

from tests.functional.test_microversions_2_9x import *  # noqa: F401,F403

pytestmark = pytest.mark.interop
