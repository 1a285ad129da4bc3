"""Keep asn1crypto's name tables consistent when pyHanko is imported.

pyHanko registers X.509 extension names (e.g. ``qc_statements``, ETSI EN 319 412-5) in asn1crypto's
``ExtensionId`` map when its modules are imported, without refreshing asn1crypto's reverse map. If that map was
built before, any later re-encoding of such an extension fails ("invalid literal for int() … 'qc_statements'"),
and an unrelated check — a token certificate in an evidence record — breaks. Modules that use pyHanko import it
through :func:`load_pyhanko`, which registers everything once and rebuilds the reverse map.
"""

from __future__ import annotations

import functools


@functools.cache
def load_pyhanko() -> None:
    import pyhanko.sign.ades.qualified_asn1  # noqa: F401 — registers qc_statements
    import pyhanko.sign.validation  # noqa: F401 — registers the rest it uses
    from asn1crypto import x509

    x509.ExtensionId._reverse_map = {name: oid for oid, name in x509.ExtensionId._map.items()}
