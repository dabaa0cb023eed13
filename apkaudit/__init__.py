"""apkaudit: static privacy auditor for Android lending apps."""

__version__ = "0.1.0"
