"""What Nova asks Keystone about a project named in a request (quota sets,
flavor access): whether it exists, asked with the caller's token. Keystone
lets only admins (and a project's own members) look, and Nova lets a refusal
pass, so only an admin asking about a missing project is answered 400."""
from __future__ import annotations

from typing import Callable

from simcloud.nova.context import ComputeContext
from simcloud.nova.errors import bad_request

# project id -> whether Keystone has it
ProjectCheck = Callable[[str], bool]


def verify_project(check: ProjectCheck | None, context: ComputeContext, project_id: str) -> None:
    if check is not None and context.is_admin and not check(project_id):
        raise bad_request(f"Project ID {project_id} is not a valid project.")
