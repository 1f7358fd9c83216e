"""api/image"""
