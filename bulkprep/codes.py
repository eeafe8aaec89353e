"""Exit codes and output formats: what the command line promises, without the engine.

Kept apart from ``bulkprep.report`` so that commands which never touch data (``jobs``,
``status``, ``wait`` …) start without importing polars.
"""

from __future__ import annotations

from enum import StrEnum

EXIT_OK = 0  # clean (warnings allowed), or every row imported
EXIT_PROBLEMS = 1  # rows rejected or refused, or an error finding
EXIT_ERROR = 2  # bulkprep could not run
EXIT_INTERRUPTED = 130  # Ctrl-C


class OutputFormat(StrEnum):
    """How ``validate`` prints its reports."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    JUNIT = "junit"
