"""tests/functional/test_image_schemas.py, run through the cascade in front
of real OpenStack (realstack's two regions), whose Glance serves its schemas."""
from __future__ import annotations

import pytest

from tests.functional.test_image_schemas import *  # noqa: F401,F403

pytestmark = pytest.mark.interop
