"""``python -m vault_verify`` is the ``vault-verify`` command."""

import sys

from vault_verify.cli import main

sys.exit(main())
