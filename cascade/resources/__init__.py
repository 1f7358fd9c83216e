"""Declarations of the resource kinds the cascade serves."""
