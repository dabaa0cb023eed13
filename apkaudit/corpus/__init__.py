"""Corpus stage: many inputs in one run.

Owns input discovery and content keys (:mod:`.run`), the worker pool with per-app limits
(:mod:`.worker`), the SQLite results store (:mod:`.store`), CI gating and baselines
(:mod:`.gate`) and the batch output files (:mod:`.outputs`).
"""
