"""What `scenario.Scenario` provides to the step mixins that make it up
(`scenario_admin.AdminAreas`, `scenario_lifecycle.LifecycleAreas`),
declared once for both."""
from __future__ import annotations

from typing import Any


class ScenarioState:
    p: str
    top: str
    servers: dict[str, str]
    t: Any
    r: Any
    call: Any
    get: Any
    server: Any
    show_quietly: Any
    action: Any
    wait: Any
    wait_gone: Any
