"""Log lines: the text format (``VAULT_LOG_FORMAT=text``, the default) or one JSON object per line (``json``), with
the request fields of :mod:`vault.api.access_log` when a record carries them.

A JSON line never holds a traceback: an exception is named by its type and the first line of its message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_FIELDS = ("request_id", "tenant", "method", "route", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message"}`` plus the request fields a record carries."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update({name: getattr(record, name) for name in REQUEST_FIELDS if hasattr(record, name)})
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = type(error).__name__ + ": " + (str(error).strip().splitlines() or [""])[0][:300]
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``VAULT_LOG_FORMAT``."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def announce(log_format: str, message: str) -> None:
    """A start-up message for the operator: a plain ``vault: …`` line, or a log record in the JSON format."""
    if log_format == "json":
        logging.getLogger("vault").info(message)
    else:
        print(f"vault: {message}", flush=True)
