"""What the admin API's modules share."""
from __future__ import annotations

from cascade import errors
from cascade.sites.model import Site


def site_of(rt, ref: str) -> Site:
    """A site named by its id or its name."""
    try:
        return rt.registry.get(ref)
    except errors.NotFound:
        return rt.registry.by_name(ref)
