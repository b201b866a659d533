"""Benchmarks: tools that print figures (never tests; nothing here asserts on time)."""
