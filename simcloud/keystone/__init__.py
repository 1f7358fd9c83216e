"""simcloud's shared Keystone: a v3 subset (tokens, identity administration,
catalog) with real shapes and error bodies, held in memory. `Keystone` is the
whole of it; the modules beside this one are its parts."""
from simcloud.keystone.app import Keystone

__all__ = ["Keystone"]
