"""bulkprep: get CSV data into a cloud bulk-import API cleanly.

Validate and repair a CSV file against a declarative schema, write a clean file and
a rejects file, and upload through the SAP Open Connectors Bulk API.
"""

from __future__ import annotations

from ._exceptions import (
    AmbiguousUploadError,
    ApiError,
    AuthError,
    BulkprepError,
    ConfigError,
    DuplicateUploadError,
    EncodingError,
    InputError,
    JobError,
    NotFoundError,
    OutputError,
    RateLimitError,
    SandboxError,
    SchemaError,
    TransportError,
    WaitTimeout,
)
from .api import clean, validate
from .findings import CATALOG, Finding, Severity
from .reader import open_csv
from .report import OutputFormat, Report, render
from .schema import Column, Schema, load_schema

__version__ = "0.1.0"

__all__ = [
    "CATALOG",
    "AmbiguousUploadError",
    "ApiError",
    "AuthError",
    "BulkprepError",
    "Column",
    "ConfigError",
    "DuplicateUploadError",
    "EncodingError",
    "Finding",
    "InputError",
    "JobError",
    "NotFoundError",
    "OutputError",
    "OutputFormat",
    "RateLimitError",
    "Report",
    "SandboxError",
    "Schema",
    "SchemaError",
    "Severity",
    "TransportError",
    "WaitTimeout",
    "__version__",
    "clean",
    "load_schema",
    "open_csv",
    "render",
    "validate",
]
