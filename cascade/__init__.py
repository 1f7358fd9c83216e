"""Cascade: many OpenStack clouds ("sites") served as one through their standard APIs."""
