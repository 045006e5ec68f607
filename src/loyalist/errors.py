"""One error hierarchy for the library, the CLI and the API.

Every error a user can cause is a :class:`LoyalistError`. Each child also inherits
the matching built-in so that ``except ValueError`` keeps working. Messages say
what was given, what was expected, and what to do next (``hint``).
"""

from __future__ import annotations


class LoyalistError(Exception):
    """Base class of every error Loyalist raises on purpose."""

    #: process exit code used by the CLI
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nNext step: {self.hint}"
        return self.message


class UnknownTableError(LoyalistError, KeyError):
    """A table name that is not part of the data contract."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would repr() the message
        return LoyalistError.__str__(self)


class SourceError(LoyalistError, FileNotFoundError):
    """An input file that is missing, unreadable or of an unknown format."""

    exit_code = 2


class PathError(LoyalistError, OSError):
    """A file or folder named by the user that cannot be read or written (an output
    folder that cannot be made, a file without permission)."""

    exit_code = 2

    @classmethod
    def from_os_error(cls, e: OSError) -> PathError:
        return cls(f"Cannot use {str(e.filename)!r}: {e.strerror or e}.",
                   hint="Check the path: its folder must exist or be one that can be made, "
                   "and you need the right to write there.")


class MappingError(LoyalistError, ValueError):
    """A column mapping that does not fit the file or the contract."""

    exit_code = 2


class IngestError(LoyalistError, ValueError):
    """An ingest that could not accept a single row; nothing was written."""

    exit_code = 3


class StoreLockedError(LoyalistError, OSError):
    """The store file is held by another process."""

    exit_code = 4


class StoreVersionError(LoyalistError, RuntimeError):
    """The store was written by a newer Loyalist than this one."""

    exit_code = 4


class NotFittedError(LoyalistError, ValueError, AttributeError):
    """A model was used before ``fit``."""


class ConvergenceError(LoyalistError, ArithmeticError):
    """A model fit did not converge; the message lists what to try."""


class DataError(LoyalistError, ValueError):
    """Data that cannot be used for the computation asked of it."""


class CouncilError(DataError):
    """A customer-council record that cannot be kept: a member who is not a customer, a
    commitment without an owner or due date, a meeting or commitment that does not
    exist. Nothing is written."""

    exit_code = 2


class NotOnEngineError(LoyalistError, NotImplementedError):
    """An operation the store's engine cannot do (yet): the message names the operation
    and the engine, the hint what to do instead."""

    def __init__(self, operation: str, engine: str, *, hint: str | None = None):
        super().__init__(f"{operation} is not available on {engine} stores.",
                         hint=hint or "Run it on a DuckDB store (loyalist.connect(path)); "
                         "docs/scale.md lists what runs on Spark.")
        self.operation = operation
        self.engine = engine


class PermissionDeniedError(LoyalistError, PermissionError):
    """The person asking may not do this (another person's item, a lower role)."""

    exit_code = 5
    status = 403


class AuthError(LoyalistError, PermissionError):
    """Wrong or missing credentials (HTTP 401)."""

    exit_code = 5
    status = 401


class ForbiddenError(LoyalistError, PermissionError):
    """Signed in, but the role does not allow this (HTTP 403)."""

    exit_code = 5
    status = 403


class ThrottledError(LoyalistError, PermissionError):
    """Too many failed sign-ins from one address: wait (HTTP 429 with Retry-After)."""

    exit_code = 5
    status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = int(retry_after)


class DeliveryError(LoyalistError, ConnectionError):
    """A message that could not be delivered (the SMTP server or the webhook refused it
    or could not be reached); the hint says what to check."""

    exit_code = 6
