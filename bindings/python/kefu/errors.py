"""One exception hierarchy mapped from kefu's status codes.

Every exception is a :class:`Error` carrying the status code and the
diagnostic of the object that failed: ``message``, ``file``, ``line``,
``column`` (1-based, 0 when unknown) and ``offset`` (byte offset or None).
``str(e)`` reads ``file:line:column: message``.
"""
from __future__ import annotations

import ctypes
from typing import Optional

from . import _lib

OK = 0
E_NOMEM = -1
E_ARG = -2
E_UTF8 = -3
E_TOO_LONG = -4
E_IO = -5
E_SYNTAX = -6
E_MODEL = -7
E_CORRUPT = -8
E_VERSION = -9
E_PATTERN = -10
E_TYPE = -11
E_UNKNOWN = -12
E_LIMIT = -13
E_STATE = -14
E_EXISTS = -15
E_BUFFER = -16
E_EMPTY = -17

STATUS_NAMES = {
    OK: "KEFU_OK", E_NOMEM: "KEFU_E_NOMEM", E_ARG: "KEFU_E_ARG",
    E_UTF8: "KEFU_E_UTF8", E_TOO_LONG: "KEFU_E_TOO_LONG", E_IO: "KEFU_E_IO",
    E_SYNTAX: "KEFU_E_SYNTAX", E_MODEL: "KEFU_E_MODEL",
    E_CORRUPT: "KEFU_E_CORRUPT", E_VERSION: "KEFU_E_VERSION",
    E_PATTERN: "KEFU_E_PATTERN", E_TYPE: "KEFU_E_TYPE",
    E_UNKNOWN: "KEFU_E_UNKNOWN", E_LIMIT: "KEFU_E_LIMIT",
    E_STATE: "KEFU_E_STATE", E_EXISTS: "KEFU_E_EXISTS",
    E_BUFFER: "KEFU_E_BUFFER", E_EMPTY: "KEFU_E_EMPTY",
}


class Error(Exception):
    """Base of every kefu error."""

    def __init__(self, status: int, message: str = "", file: str = "",
                 line: int = 0, column: int = 0,
                 offset: Optional[int] = None):
        self.status = status
        self.message = message or strerror(status)
        self.file = file
        self.line = line
        self.column = column
        self.offset = offset
        super().__init__(self.__str__())

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, str(self.status))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += ":%d" % self.line
                if self.column:
                    where += ":%d" % self.column
            where += ": "
        elif self.line:
            where = "line %d:%d: " % (self.line, self.column)
        return "%s%s (%s)" % (where, self.message, self.status_name)


class NoMemoryError(Error, MemoryError):
    """KEFU_E_NOMEM."""


class ArgumentError(Error, ValueError):
    """KEFU_E_ARG: an invalid argument."""


class TextError(Error, ValueError):
    """Bad input text: KEFU_E_UTF8, KEFU_E_TOO_LONG."""


class Utf8Error(TextError):
    """KEFU_E_UTF8; ``offset`` is the first bad byte."""


class TooLongError(TextError):
    """KEFU_E_TOO_LONG."""


class FileError(Error):
    """KEFU_E_IO: a file could not be read or written."""


class FormatError(Error):
    """Malformed or invalid model, rule or data content (has a position)."""


class ParseError(FormatError):
    """KEFU_E_SYNTAX: malformed YAML or expression."""


class ModelError(FormatError):
    """KEFU_E_MODEL: well-formed but invalid model content."""


class CorruptError(FormatError):
    """KEFU_E_CORRUPT: damaged binary model, session or snapshot."""


class VersionError(FormatError):
    """KEFU_E_VERSION: unsupported format version."""


class PatternError(FormatError):
    """KEFU_E_PATTERN: a regular expression does not compile."""


class TypeCheckError(FormatError):
    """KEFU_E_TYPE: an ill-typed rule expression or fact value."""


class UnknownError(Error, LookupError):
    """KEFU_E_UNKNOWN: unknown key, fact, name or id."""


class ExistsError(Error):
    """KEFU_E_EXISTS: the name or id is already in use."""


class LimitError(Error):
    """KEFU_E_LIMIT: a resource limit was hit."""


class StateError(Error):
    """KEFU_E_STATE: the call is not valid now (also: object closed)."""


class BufferTooSmallError(Error):
    """KEFU_E_BUFFER."""


class EmptyError(Error):
    """KEFU_E_EMPTY: nothing to do (no data, no examples)."""


_CLASSES = {
    E_NOMEM: NoMemoryError, E_ARG: ArgumentError, E_UTF8: Utf8Error,
    E_TOO_LONG: TooLongError, E_IO: FileError, E_SYNTAX: ParseError,
    E_MODEL: ModelError, E_CORRUPT: CorruptError, E_VERSION: VersionError,
    E_PATTERN: PatternError, E_TYPE: TypeCheckError, E_UNKNOWN: UnknownError,
    E_LIMIT: LimitError, E_STATE: StateError, E_EXISTS: ExistsError,
    E_BUFFER: BufferTooSmallError, E_EMPTY: EmptyError,
}


def strerror(status: int) -> str:
    """kefu_strerror: a static English description of a status code."""
    return _lib.kefu_strerror(int(status)).decode("utf-8", "replace")


def _s(b) -> str:
    return b.decode("utf-8", "replace") if b else ""


def make(status: int, diag=None) -> Error:
    """The exception for `status`, with the position from `diag` (a
    ``kefu_diag *`` or None) when it describes the same failure."""
    cls = _CLASSES.get(status, Error)
    if diag:
        dstat = _lib.kefu_diag_status(diag)
        if dstat == status or dstat != OK:
            off = _lib.kefu_diag_offset(diag)
            return cls(status, _s(_lib.kefu_diag_message(diag)),
                       _s(_lib.kefu_diag_file(diag)),
                       _lib.kefu_diag_line(diag),
                       _lib.kefu_diag_column(diag),
                       None if off == 2**64 - 1 else off)
    return cls(status)


def check(status: int, diag=None) -> int:
    """Raises the mapped exception when `status` is negative."""
    if status < 0:
        raise make(status, diag)
    return status


class Diag:
    """A caller-owned kefu_diag for loaders that have no object yet."""

    def __init__(self):
        self.ptr = _lib.kefu_diag_new(None)
        if not self.ptr:
            raise NoMemoryError(E_NOMEM)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.kefu_diag_free(self.ptr)
        self.ptr = None

    def check(self, status: int) -> int:
        return check(status, self.ptr)

    def format(self) -> str:
        n = _lib.kefu_diag_format(self.ptr, None, 0)
        buf = ctypes.create_string_buffer(n + 1)
        _lib.kefu_diag_format(self.ptr, buf, n + 1)
        return _s(buf.value)
