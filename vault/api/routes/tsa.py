"""``/v1/tsa``: the TSA trust roots in use and, on the embedded default, the development TSA over HTTP.

The development TSA speaks RFC 3161 §3.4 (POST ``application/timestamp-query``, answer
``application/timestamp-reply``); it exists only when no external TSA is configured, as does its CRL.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vault.api.access import CurrentVault
from vault.api.problems import Problem
from vault.timestamping.client import QUERY_TYPE, REPLY_TYPE
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/tsa", tags=["timestamping"])
MAX_QUERY = 16 * 1024


@router.get("/roots", responses={200: {"content": {"application/x-pem-file": {}}}})
async def roots(vault: CurrentVault, request: Request):
    """PEM trust roots of the TSAs this archive uses: what a verifier needs besides the evidence record."""
    return Response(vault.tsa_roots_pem(), media_type="application/x-pem-file")


@router.get("/crl", responses={200: {"content": {"application/pkix-crl": {}}},
                               404: {"description": "No development TSA here"}})
async def development_tsa_crl(vault: CurrentVault, request: Request):
    """The development TSA root's current CRL (DER, RFC 5280). Its certificates name ``http://vault.invalid/tsa/crl``
    as their distribution point, which is never fetched: the archive embeds this CRL in the PDFs it signs."""
    dev = vault.dev_tsa
    if dev is None:
        raise Problem(404, "no-development-tsa", "No development TSA",
                      "this archive uses external TSAs (VAULT_TSA_URLS); the built-in one is off")
    return Response(await run_in_threadpool(dev.crl), media_type="application/pkix-crl")


@router.post("", responses={200: {"content": {REPLY_TYPE: {}}}, 404: {"description": "No development TSA here"},
                            415: {"description": "Not a timestamp query"}})
async def development_tsa(vault: CurrentVault, request: Request):
    """The built-in development TSA (tokens marked "development, not qualified")."""
    dev = vault.dev_tsa
    if dev is None:
        raise Problem(404, "no-development-tsa", "No development TSA",
                      "this archive uses external TSAs (VAULT_TSA_URLS); the built-in one is off")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != QUERY_TYPE:
        raise Problem(415, "unsupported-media-type", "Unsupported media type", f"send {QUERY_TYPE} (RFC 3161 §3.4)")
    body = await request.body()
    if len(body) > MAX_QUERY:
        raise Problem(413, "query-too-large", "Query too large", f"a TimeStampReq is at most {MAX_QUERY} bytes here")
    return Response(await run_in_threadpool(dev.respond, body), media_type=REPLY_TYPE)
