"""The functional tier's Compute scenarios, run through the cascade against
real Nova (realstack's two regions) instead of simcloud: creates in each zone
and by the scheduler, fanned-out lists with pagination and sorting, every
action, metadata, tags, key pairs, flavors, images, deletes and tenant
isolation, each checked straight in the region; error bodies, body types
and answer shapes compared with the same request made straight at a region;
and the demo's Keystone set-up, run again on the real Keystone."""
from __future__ import annotations

import pytest

from tests.functional.test_answer_shapes import *  # noqa: F401,F403
from tests.functional.test_demo_setup import *  # noqa: F401,F403
from tests.functional.test_errors_and_isolation import *  # noqa: F401,F403
from tests.functional.test_openstack_cli import *  # noqa: F401,F403
from tests.functional.test_server_actions import *  # noqa: F401,F403
from tests.functional.test_server_lists import *  # noqa: F401,F403
from tests.functional.test_servers import *  # noqa: F401,F403
from tests.functional.test_top_owned import *  # noqa: F401,F403

pytestmark = pytest.mark.interop
