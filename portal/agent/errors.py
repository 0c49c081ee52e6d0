"""What can stop an agent command, each with the exit code a script can tell apart."""

# Exit codes: 2 is argparse's own for bad usage.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_UNAUTHORIZED = 4


class AgentError(Exception):
    """A command could not do its work; the message says why and what to do."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageError(AgentError):
    """The command was given bad input, or the local state does not allow it yet."""

    exit_code = EXIT_USAGE


class PortalUnreachable(AgentError):
    """The portal could not be reached, or kept failing, after every retry."""

    exit_code = EXIT_UNREACHABLE


class Unauthorized(AgentError):
    """The portal refused the device token or the activation code."""

    exit_code = EXIT_UNAUTHORIZED


class Refused(AgentError):
    """The portal answered a request with a 4xx refusal other than 401."""

    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.fields = fields or {}


class ApplyFailed(AgentError):
    """A package could not be verified or written into the local database."""


class DownloadFailed(ApplyFailed):
    """A package could not be downloaded whole, or failed its SHA-256 check."""
