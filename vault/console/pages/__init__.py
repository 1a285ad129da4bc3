"""The console's pages, one module per group; each module's ``router`` is listed in :data:`vault.console.app.PAGES`."""
