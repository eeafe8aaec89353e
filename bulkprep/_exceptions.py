"""Exceptions: raised when bulkprep cannot go on.

Problems *in the data* are findings (see ``bulkprep.findings``), never exceptions.
An exception means the run itself cannot continue. The CLI catches
``BulkprepError`` once, prints its message on one line and exits with code 2.

    BulkprepError
    ├── SchemaError            a schema file is missing, unreadable or invalid
    ├── InputError             the input file cannot be read as CSV
    │   └── EncodingError      bytes that cannot be decoded with the chosen encoding
    ├── OutputError            an output file cannot be written
    ├── ConfigError            settings or credentials are missing or unsafe
    ├── ApiError               the Open Connectors API answered with an error
    │   ├── AuthError          401 / 403
    │   ├── NotFoundError      404
    │   └── RateLimitError     429 after every retry was spent
    ├── TransportError         the API could not be reached (connection, timeout)
    │   └── AmbiguousUploadError  an upload may or may not have created a job
    ├── JobError               a bulk job failed, or cannot be found or waited for
    │   ├── DuplicateUploadError  the same bytes were already uploaded (use --force)
    │   ├── WaitTimeout        the job did not finish within --timeout
    │   └── WaitInterrupted    Ctrl-C while waiting; the job keeps running
    └── SandboxError           the local sandbox could not start

Foreign exceptions (requests, polars, yaml, OSError) are translated where they
happen, with ``raise ... from exc``, so the cause stays in the chain.
"""

from __future__ import annotations


class BulkprepError(Exception):
    """Base class: bulkprep cannot go on. ``str(exc)`` is the one-line message for users."""


class SchemaError(BulkprepError):
    """A schema file is missing, unreadable, or not valid."""


class InputError(BulkprepError):
    """The input file cannot be read as CSV (empty, binary, no header, unreadable)."""


class EncodingError(InputError):
    """The input has bytes that cannot be decoded with the chosen encoding."""


class OutputError(BulkprepError):
    """An output file cannot be written."""


class ConfigError(BulkprepError):
    """Settings or credentials are missing, malformed or unsafe."""


class ApiError(BulkprepError):
    """The API answered with an HTTP error.

    Carries the platform's ``message`` and ``requestId`` when the body had them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        provider_message: str | None = None,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.provider_message = provider_message
        text = message
        if status is not None:
            text = f"HTTP {status}: {text}"
        if provider_message:
            text = f"{text} (provider: {provider_message})"
        if request_id:
            text = f"{text} [requestId {request_id}]"
        super().__init__(text)


class AuthError(ApiError):
    """The API refused the credentials (401 or 403)."""


class NotFoundError(ApiError):
    """The API answered 404: no such object, job or route."""


class RateLimitError(ApiError):
    """The API kept answering 429 after every retry was spent."""


class TransportError(BulkprepError):
    """The API could not be reached: connection refused or reset, or a timeout."""


class AmbiguousUploadError(TransportError):
    """An upload request may have reached the server, and no job for it could be found."""


class JobError(BulkprepError):
    """A bulk job failed, or cannot be found or waited for."""


class DuplicateUploadError(JobError):
    """The same bytes were already uploaded to the same object and target."""


class WaitTimeout(JobError):
    """The job did not reach a final status before the timeout."""


class SandboxError(BulkprepError):
    """The local sandbox server could not start."""


class WaitInterrupted(JobError):
    """The user interrupted the wait (Ctrl-C); the job keeps running on the server."""

    def __init__(self, message: str, job_ids: list[str]) -> None:
        super().__init__(message)
        self.job_ids = job_ids
