"""Reliability and security tests: API faults, permissions, hostile input, leaks, history survival, fuzzing."""
