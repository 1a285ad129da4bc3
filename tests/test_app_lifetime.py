"""An app and its vault, once closed, are freed: nothing of the process (FastAPI's caches of endpoint functions, a
closure per app) keeps them. A test session opens thousands; the suite's process once grew to 5 GB this way."""

import gc
import weakref

from starlette.testclient import TestClient

from tests.conftest import make_settings
from vault.api.app import create_app
from vault.app import Vault


def test_a_closed_vault_and_its_app_are_freed(tmp_path, database_url):
    vault = Vault.open(make_settings(tmp_path, database_url), sweep_in_background=False, background_jobs=False)
    app = create_app(vault)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200 and client.get("/health").status_code == 200
    vault.close()
    gone_vault, gone_app = weakref.ref(vault), weakref.ref(app)
    del vault, app, client
    gc.collect()
    assert gone_vault() is None and gone_app() is None
