"""Exceptions of the library. The CLI maps them to exit codes; nothing here prints or exits."""


class ApkAuditError(Exception):
    """Base of every error apkaudit raises on purpose."""


class InputError(ApkAuditError):
    """The input cannot be audited: not an APK, corrupt, or over a limit.

    The message is one line that names the file and the reason.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class LimitExceeded(InputError):
    """A resource limit was hit before anything was inflated or decoded."""


class DexFormatError(ApkAuditError):
    """A dex file is malformed; raised by the dex reader, caught per dex by the caller."""


class RuleError(ApkAuditError):
    """A rule or catalogue data file is invalid (a bug in the shipped data)."""


class OutputError(ApkAuditError):
    """A report could not be written (missing or read-only directory, full disk...).

    The message is one line that names the file and the reason; nothing half-written is left.
    """
