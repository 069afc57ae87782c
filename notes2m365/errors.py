"""The exception tree of notes2m365, in one place.

    Notes2M365Error
    ├── ConfigError(ValueError)       bad command line, job or mapping file   -> exit 2
    ├── SourceError                   a DXL input problem
    │   ├── DxlFileError              the file cannot be read at all (missing, not XML)
    │   └── DxlDocumentError          one document is malformed; reading goes on
    ├── StateError                    the state store is locked, corrupt or newer  -> abort
    ├── SinkError                     a Graph call failed; raised only by ``graph.py``, translated once
    │   ├── TransientGraphError       429/5xx/timeouts/connection resets -> retry (request, then item level)
    │   ├── PermanentGraphError       other 4xx (``code`` e.g. ErrorFolderExists)  -> item failed; run goes on
    │   └── FatalGraphError           401 after a token refresh, tenant-wide 403, quota  -> abort the run
    └── EmulatorHttpError             the Graph emulator answers a request with a Graph error

A ``SinkError`` carries the HTTP ``status`` (0 when no answer came), Graph's
``error.code`` and message, the ``request_id`` Graph gave, and ``where``
("POST /users/x/messages"; never a query string of an upload URL, never a token).
``TransientGraphError.retry_after`` is the parsed ``Retry-After`` in seconds, and
``maybe_committed`` says whether the write may have been carried out although
the answer says otherwise (a 504 or a dropped connection after the request was
sent) — such a write is looked up by its source key before it is sent again.

``EmulatorHttpError`` never leaves the emulator: its handlers raise it and the
server turns it into Graph's JSON error shape.

Reading never raises for a single bad document: the reader yields a
:class:`notes2m365.model.DocumentError` record instead, so that every
``<document>`` is either yielded or reported.  ``DxlDocumentError`` is the
internal signal used to build that record.
"""

from __future__ import annotations


class Notes2M365Error(Exception):
    """Base of every error raised on purpose by notes2m365."""


class ConfigError(Notes2M365Error, ValueError):
    """A command line, job or mapping file is invalid."""


class SourceError(Notes2M365Error):
    """A problem with the DXL input."""


class DxlFileError(SourceError):
    """A DXL file cannot be opened or is not XML at all."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


class DxlDocumentError(SourceError):
    """One document in a DXL file is malformed (internal; becomes a DocumentError record)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message)


class StateError(Notes2M365Error):
    """The state store cannot be used: in use by another process, not a state store, or too new."""


class EmulatorHttpError(Notes2M365Error):
    """A Graph error answer of the emulator: HTTP status, Graph ``error.code`` and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{status} {code}: {message}")


class SinkError(Notes2M365Error):
    """A Microsoft Graph call failed: HTTP status, Graph ``error.code``, message and request id."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None,
                 where: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.where = where
        text = f"{status} {code}: {message}" if status else f"{code}: {message}"
        super().__init__(f"{where}: {text}" if where else text)


class TransientGraphError(SinkError):
    """Throttling, a server or gateway error, a timeout or a dropped connection: worth trying again.

    ``retry_after``: seconds Graph asked us to wait (None when it did not say).
    ``maybe_committed``: False only when Graph cannot have carried out the request (429, or a
    connection that was never established); True otherwise, so a non-idempotent write must be
    looked up before it is sent again.
    """

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None,
                 where: str = "", retry_after: float | None = None, maybe_committed: bool = True) -> None:
        super().__init__(status, code, message, request_id, where)
        self.retry_after = retry_after
        self.maybe_committed = maybe_committed


class PermanentGraphError(SinkError):
    """Graph refused this request (4xx other than auth): the item fails; ``code`` says why."""


class FatalGraphError(SinkError):
    """Nothing will work until an operator acts: bad credentials, access denied tenant-wide, quota."""
