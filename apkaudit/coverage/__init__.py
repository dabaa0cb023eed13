"""Coverage stage: what the analysis cannot see, as blind spots.

Owns hidden-code detection (packers, native code, class loaders, encrypted payloads, manifest
classes in no dex) and the rule that any blind spot makes coverage incomplete.
"""
