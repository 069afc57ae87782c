"""The exception tree of notes2m365, in one place.

    Notes2M365Error
    ├── ConfigError(ValueError)       bad command line, job or mapping file   -> exit 2
    ├── SourceError                   a DXL input problem
    │   ├── DxlFileError              the file cannot be read at all (missing, not XML)
    │   └── DxlDocumentError          one document is malformed; reading goes on
    ├── StateError                    the state store is locked, corrupt or newer  -> abort
    └── EmulatorHttpError             the Graph emulator answers a request with a Graph error

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
