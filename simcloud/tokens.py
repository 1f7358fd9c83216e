"""What a simulated service learns from a token: the shared vocabulary between
simcloud's Keystone (which issues and validates tokens) and the simulated
sites (which only ask "who is this?" through a `Validator`)."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Callable


@dataclasses.dataclass(frozen=True)
class TokenInfo:
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    domain_id: str | None
    roles: tuple[str, ...]
    expires_at: datetime.datetime

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


# Answers None for an unknown, revoked or expired token.
Validator = Callable[[str], "TokenInfo | None"]
