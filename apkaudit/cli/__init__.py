"""Command line: parse options, call the library, write files, map results to exit codes.

:mod:`.main` holds the click group and the entry point; :mod:`.options` the exit codes and the
options commands share; :mod:`.scan`, :mod:`.batch` and :mod:`.rules` one command each.
"""
