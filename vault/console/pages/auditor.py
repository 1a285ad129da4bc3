"""The auditor's Journal page: entries by object, actor, action and period, each with its RFC 6962 inclusion proof
against the newest signed checkpoint; that checkpoint and the TSA anchors; "verify the journal now".

The entries come from :func:`vault.api.routes.journal.journal_entries` (what ``GET /v1/journal/entries`` answers:
a tenant's auditor sees its tenant's entries only), the anchors from the ``GET /v1/journal/anchors`` route itself;
the verification is :func:`vault.journal.audit.audit_journal`, run per session by :mod:`vault.console.verification`;
the offline export is ``GET /v1/journal/export``'s ZIP (:mod:`vault.journal.export`).
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, time, timedelta, timezone

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.routes.journal import export_response, journal_entries
from vault.api.security import get_vault
from vault.console.guard import Visitor
from vault.console.render import page, translator
from vault.console.sessions import COOKIE
from vault.journal.checkpoints import latest_checkpoint
from vault.journal.listing import EntryQuery
from vault.journal.visible import read_anchors
from vault.limits import INT64_MAX
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/ui/journal", include_in_schema=False)
PAGE = 50


def _day(text: str, name: str) -> datetime | None:
    """A ``YYYY-MM-DD`` form field as midnight UTC."""
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
    except ValueError:
        raise Problem(422, "invalid-request", "Invalid request", f"{name}: give a date as YYYY-MM-DD") from None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _rows(page_, excerpt) -> list[dict]:
    """Each entry with its proof: leaf index, tree size and audit path, or None when newer than the checkpoint."""
    rows = []
    for seq, raw in page_.entries:
        entry = json.loads(raw)
        path = excerpt.proofs.get(seq) if excerpt is not None else None
        rows.append({"entry": entry, "seq": seq, "detail": json.dumps(entry.get("detail") or {}, ensure_ascii=False),
                     "proof": None if path is None else {"index": seq, "size": excerpt.size,
                                                         "path": [_b64(h) for h in path]}})
    return rows


@router.get("")
async def journal(visitor: Visitor, request: Request,
                  start: int = Query(default=0, ge=0, le=INT64_MAX, alias="from"),
                  object_id: str = Query(default="", alias="object", max_length=64),
                  actor: str = Query(default="", max_length=64), action: str = Query(default="", max_length=48),
                  since: str = Query(default="", max_length=10), until: str = Query(default="", max_length=10)):
    vault = get_vault(request)
    end_day = _day(until, "until")
    query = EntryQuery(start, None, actor.strip() or None, action.strip() or None, object_id.strip() or None, None,
                       PAGE, _day(since, "since"), end_day + timedelta(days=1) if end_day else None)
    page_, excerpt, _proofs = await journal_entries(visitor, vault, query, proofs=True)
    latest = await run_in_threadpool(latest_checkpoint, vault.reader)
    anchors = await run_in_threadpool(read_anchors, vault.reader, -1)
    filters = {"object": object_id, "actor": actor, "action": action, "since": since, "until": until}
    verification = request.app.state.console_verifications.get(request.cookies.get(COOKIE))
    return page(request, "journal.html", title=translator(request)("journal.title"), rows=_rows(page_, excerpt),
                checkpoint=excerpt.checkpoint.decode() if excerpt else (latest["note"] if latest else None),
                filters=filters, next_from=page_.next_from, anchors=list(reversed(anchors))[:10],
                anchor_count=len(anchors), verification=verification, scope=visitor.tenant)


@router.post("/verify")
async def verify(visitor: Visitor, request: Request):
    """Start checking the whole journal (one run per session at a time); the page shows its progress."""
    await run_in_threadpool(request.app.state.console_verifications.start, request.cookies.get(COOKIE),
                            get_vault(request))
    return RedirectResponse("/ui/journal#verification", status_code=303)


@router.get("/export.zip")
async def export(visitor: Visitor, request: Request):
    """The offline export for this key (``GET /v1/journal/export``: the same ZIP, the same tenant rules)."""
    return await export_response(visitor, get_vault(request))
