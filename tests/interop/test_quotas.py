"""The functional tier's quota scenarios, run through the cascade against
real Nova (realstack's two regions): the cascade's global quotas refuse
before any region is asked, and what the regions hold is checked in them."""
from __future__ import annotations

import pytest

from tests.functional.test_quotas import *  # noqa: F401,F403

pytestmark = pytest.mark.interop
