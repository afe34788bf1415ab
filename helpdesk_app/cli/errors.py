"""The two ways a command fails, each with its exit code."""
from __future__ import annotations


class UsageError(Exception):
    """Bad arguments or an unusable environment: exit code 2, one line on stderr."""


class CommandFailed(Exception):
    """Something outside the command failed (an upstream, the audit trail) before it had a
    result to print: exit code 1, one line on stderr."""
