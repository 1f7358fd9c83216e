"""api/compute"""
