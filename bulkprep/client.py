"""The Open Connectors Bulk API client.

Every request carries the settings' timeout. Failures are translated here, once:

- 401/403 → ``AuthError``, 404 → ``NotFoundError``, 429 after every retry →
  ``RateLimitError``, any other HTTP error → ``ApiError``; each carries the
  platform's ``message``, ``requestId`` and ``providerMessage``.
- connection failures and timeouts → ``TransportError``.

Messages are built here, never copied from ``requests`` exceptions, and any
secret a server might echo back is masked, so secrets reach no message or log.

Retries (bounded by :class:`~bulkprep._retry.RetryPolicy`):

- Reads (GET) and the cancel PUT are retried on connection errors, timeouts,
  429 and 502/503/504. A 409 on cancel means the job is already final.
- The upload POST is re-sent only when the server certainly did not take it:
  the connection could not be made, the body was not sent in full, or the
  server answered 429 or 503 (and a look at the job list confirms no job has
  our file name). When the server may have taken it (read timeout, connection
  lost after the whole body was sent, 500/502/504, an unreadable answer), the
  client never posts again: it looks for the job by its unique remote file
  name and adopts it if found exactly once, else raises ``AmbiguousUploadError``.
  So no sequence of faults creates two jobs for one upload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from bulkprep import __version__
from bulkprep._exceptions import (
    AmbiguousUploadError,
    ApiError,
    AuthError,
    BulkprepError,
    InputError,
    NotFoundError,
    RateLimitError,
    TransportError,
)
from bulkprep._retry import Retrier, RetryPolicy
from bulkprep._upload import (
    CANCELLED_STATUSES,
    FAILURE_STATUSES,
    RUNNING_STATUSES,
    SUCCESS_STATUSES,
    Job,
    JobStatus,
    file_sha256,
    parse_time,
    unique_remote_name,
)
from bulkprep.config import Settings

__all__ = [
    "CANCELLED_STATUSES",
    "FAILURE_STATUSES",
    "RUNNING_STATUSES",
    "SUCCESS_STATUSES",
    "Client",
    "Job",
    "JobStatus",
]
