"""Manifest stage: the binary, text or protobuf AndroidManifest.xml into ``ManifestFacts``.

Owns the androguard adapter (the only module that imports androguard: AXML, resources,
certificates, AOSP permission levels), the protobuf reader of .aab manifests, and the
parsing of the manifest tree into identity, permissions and components.
"""
