"""Nova's error answers: one exception type carrying the HTTP status and
message, and the fault body Nova renders for it
(`{"itemNotFound": {"code": 404, "message": "..."}}`).

Handlers raise `NovaError` (or use the helpers); the compute app's middleware
turns it into the body, so no handler builds an error response by hand.
"""
from __future__ import annotations

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class NovaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict:
        name = FAULT_NAMES.get(self.status, "computeFault")
        return {name: {"code": self.status, "message": self.message}}


def bad_request(message: str) -> NovaError:
    return NovaError(400, message)


def not_found(message: str = "The resource could not be found.") -> NovaError:
    return NovaError(404, message)


def conflict(message: str) -> NovaError:
    return NovaError(409, message)


def forbidden(message: str) -> NovaError:
    return NovaError(403, message)


def policy_forbidden(rule: str) -> NovaError:
    """What oslo.policy makes Nova answer when a rule (admin-only) denies."""
    return NovaError(403, f"Policy doesn't allow {rule} to be performed.")


def instance_not_found(server_id: str) -> NovaError:
    return not_found(f"Instance {server_id} could not be found.")


def flavor_not_found(flavor_id: str) -> NovaError:
    return not_found(f"Flavor {flavor_id} could not be found.")


def invalid_state(action: str, server_id: str, attr: str, state: object) -> NovaError:
    return conflict(
        f"Cannot '{action}' instance {server_id} while it is in {attr} {state}")


def locked(server_id: str) -> NovaError:
    return conflict(f"Instance {server_id} is locked")
