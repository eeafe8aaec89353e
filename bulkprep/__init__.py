"""bulkprep: get CSV data into a cloud bulk-import API cleanly.

Validate and repair a CSV file against a declarative schema, write a clean file and
a rejects file, and upload through the SAP Open Connectors Bulk API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    WaitInterrupted,
    WaitTimeout,
)
from .findings import CATALOG, Finding, Severity
from .schema import Column, Schema, load_schema

# Names from modules that import polars or requests are loaded on first use,
# so `import bulkprep.client` or `bulkprep jobs` do not pay for the data engine.
_LAZY = {
    "clean": "api",
    "validate": "api",
    "open_csv": "reader",
    "OutputFormat": "codes",
    "Report": "report",
    "render": "report",
    "upload": "upload",
    "UploadResult": "upload",
    "Client": "client",
    "Settings": "config",
    "load_settings": "config",
    "Journal": "journal",
    "wait_for_job": "jobs",
    "verify_signature": "signature",
}

if TYPE_CHECKING:
    from .api import clean, validate
    from .client import Client
    from .codes import OutputFormat
    from .config import Settings, load_settings
    from .jobs import wait_for_job
    from .journal import Journal
    from .reader import open_csv
    from .report import Report, render
    from .signature import verify_signature
    from .upload import UploadResult, upload


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bulkprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "CATALOG",
    "AmbiguousUploadError",
    "ApiError",
    "AuthError",
    "BulkprepError",
    "Client",
    "Column",
    "ConfigError",
    "DuplicateUploadError",
    "EncodingError",
    "Finding",
    "InputError",
    "JobError",
    "Journal",
    "NotFoundError",
    "OutputError",
    "OutputFormat",
    "RateLimitError",
    "Report",
    "SandboxError",
    "Schema",
    "SchemaError",
    "Settings",
    "Severity",
    "TransportError",
    "UploadResult",
    "WaitInterrupted",
    "WaitTimeout",
    "__version__",
    "clean",
    "load_schema",
    "load_settings",
    "open_csv",
    "render",
    "upload",
    "validate",
    "verify_signature",
    "wait_for_job",
]
