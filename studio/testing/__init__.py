"""Helpers that build small, random-weight models for tests, the bundle self-check and benchmarks.

Nothing here imports pytest; the heavy libraries (torch, diffusers) are imported only by the submodules that
need them.
"""
