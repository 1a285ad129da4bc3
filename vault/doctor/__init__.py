"""``vault doctor``: what is misconfigured or unwell in this installation, and what to do about it.

One module per family of checks (:mod:`.setup`, :mod:`.files`, :mod:`.tsa`, :mod:`.database`, :mod:`.stores`);
each check is a function ``(settings, now) -> list[Finding]`` run with its own timeout (:mod:`.report`), so a TSA
or a store that hangs costs that check, not the doctor.
"""
