"""Fuzzing apkaudit's input paths: see harness.py (targets, mutators) and __main__.py (long run)."""
