"""The web console at ``/ui/``: server-rendered pages over the same services and authorization table as the API.

How it fits together (docs/console.md):

* :mod:`.sessions` — the server-side sessions a key is exchanged for at sign-in (memory; the cookie holds a random
  id, never the key);
* :mod:`.guard` — :data:`~.guard.Visitor`, the console's ``Caller``: the session's principal, re-resolved from the
  key on every request and checked against the route's permissions in :data:`vault.api.access.ROUTES`; CSRF;
* :mod:`.render` — Jinja2 pages, the message catalogs (:mod:`.i18n`), HTML error pages, the security headers;
* :mod:`.pages` — one module per group of pages, each an ``APIRouter`` listed in :data:`.app.PAGES`.

Adding a page: write a handler in a module of :mod:`.pages` that takes ``visitor: Visitor`` and calls the same
helper the API route calls (so it is authorized and journaled alike), add its ``(method, path)`` with the
permissions it needs to ``ROUTES`` in vault/api/access.py (the app refuses to start otherwise), its template in
``templates/``, its strings in ``messages/en.json`` and ``messages/fr.json``, a link in ``templates/base.html``'s
navigation, and a request in tests/security/test_authorization_matrix.py's ``CONSOLE_REQUESTS``.
"""
