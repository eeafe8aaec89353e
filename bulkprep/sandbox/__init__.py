"""A local sandbox of the Open Connectors Bulk API, for tests and ``bulkprep upload --sandbox``.

A real HTTP server on 127.0.0.1 (werkzeug, threaded) that answers the endpoints the
uploader uses with the platform's shapes, refuses bad auth, processes jobs
asynchronously against a SQLite store, and injects faults on demand::

    from bulkprep.sandbox import Sandbox

    with Sandbox(step_seconds=0.01) as sb:
        sb.inject("drop", method="POST", path=r"/bulk/contact$", after_handling=True)
        ...  # point the client at sb.base_url with sb.auth_header

Modules: ``server`` (the :class:`Sandbox` and :func:`serve_forever`), ``app`` (WSGI
app, auth, error bodies), ``handlers`` (the endpoints), ``store`` (SQLite),
``worker`` (job processing and callbacks), ``faults`` (:class:`FaultPlan`),
``catalog`` (objects and their metadata).
"""

from __future__ import annotations

from .app import API_PREFIX, SandboxCredentials
from .faults import FAULT_KINDS, FaultPlan
from .server import Sandbox, serve_forever

__all__ = [
    "API_PREFIX",
    "FAULT_KINDS",
    "FaultPlan",
    "Sandbox",
    "SandboxCredentials",
    "serve_forever",
]
