"""Command line: parse options, call the library, write files, map results to exit codes.

:mod:`.app` holds the click group, ``scan`` and ``rules``; :mod:`.batch` the ``batch`` command.
"""
