"""ETSI TS 119 512 (V1.1.2) preservation protocol: a JSON-over-HTTP binding of its operations onto vault's services.

:mod:`vault.etsi.messages` maps the specification's messages (element names of clause 5) to and from our services'
inputs and answers, with no I/O; :mod:`vault.etsi.profiles` describes the preservation profiles RetrieveInfo
answers (clause 5.3.2); :mod:`vault.etsi.validation` is ValidateEvidence (clause 5.3.8) over :mod:`vault_verify`.
The routes are in :mod:`vault.api.routes.etsi`; docs/etsi-119512.md has the conformance table.
"""
