"""FIDO's PRONOM signature matching (``Fido.match_formats`` of opf-fido 1.6.1) with its signatures compiled once.

FIDO walks its ~2 300 format elements for every file: ElementTree look-ups, a regex encoded and fetched from
``re``'s cache per pattern, and ``re.search`` over the whole 128 KiB EOF window even for a pattern anchored at the
end (``…\\Z``). Profiled on the signature corpus, five sixths of its CPU was that bookkeeping (bench/README.md).
:class:`CompiledSignatures` keeps FIDO's algorithm and order — formats in load order, a signature matching when all
its patterns do, a format skipped when a match already found has priority over it, inferior matches removed at the
end, a format whose pattern FIDO cannot evaluate dropped from that pattern on — over plain tuples, and adds only
tests that cannot change an answer:

- after a BOF pattern's ``\\A`` the buffer must start with its leading literals;
- a literal run at the top level of a pattern must occur in the buffer (``bytes.find``, at memchr speed) before the
  regex engine runs; for a BOF pattern, before the largest offset the items up to it can reach (FIDO's
  ``\\A.{32768,70468}…`` otherwise backtracks over 37 000 positions of every 128 KiB window);
- a pattern ending in ``\\Z`` with a bounded width and no look-around or other anchor can only match within the
  last ``width`` bytes: it is searched there only.
"""

from __future__ import annotations

import re
from re import _constants as sre, _parser as sre_parse  # re's own parser: the pattern as the engine sees it

_SEARCHED = ("EOF", "VAR", "IFB")
_CONTEXT_FREE = {sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY, sre.BRANCH, sre.MAX_REPEAT, sre.MIN_REPEAT,
                 sre.SUBPATTERN}
"""Opcodes whose matching depends only on the bytes matched (no look-around, no anchor, no back-reference)."""


class _Unusable(Exception):
    """A pattern FIDO's ``match_formats`` raises on (no position, no regex, a regex ``re`` refuses): FIDO logs it and
    gives up the rest of that format, keeping the signatures of it that matched before."""


def _opcodes(items) -> set:
    found = set()
    for op, arg in items:
        found.add(op)
        if op is sre.BRANCH:
            for branch in arg[1]:
                found |= _opcodes(branch)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            found |= _opcodes(arg[2])
        elif op is sre.SUBPATTERN:
            found |= _opcodes(arg[3])
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found |= _opcodes(arg[1])
    return found


def _plan(regex: bytes) -> tuple[bytes, tuple[tuple[bytes, int | None], ...], int | None]:
    """(prefix after ``\\A``; the literal runs the buffer must contain, each with the offset a match from the
    buffer's start must have it ended by (None: unbounded); the tail window a ``…\\Z`` pattern lives in)."""
    try:
        parsed = sre_parse.parse(regex)
    except (re.error, RecursionError):
        return b"", (), None
    if parsed.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_LOCALE):
        return b"", (), None
    items = list(parsed)
    anchored = bool(items) and items[0] == (sre.AT, sre.AT_BEGINNING_STRING)
    runs, start = [], None
    for index, (op, _arg) in enumerate([*items, (None, None)]):
        if op is sre.LITERAL:
            start = index if start is None else start
            continue
        if start is not None:
            end = sre_parse.SubPattern(parsed.state, items[:index]).getwidth()[1]
            runs.append((bytes(arg for _op, arg in items[start:index]), end if end < sre.MAXREPEAT else None))
        start = None
    first = 1 if anchored else 0
    prefix = runs[0][0] if anchored and runs and len(items) > first and items[first][0] is sre.LITERAL else b""
    window = None
    if items and items[-1] == (sre.AT, sre.AT_END_STRING) and _opcodes(items[:-1]) <= _CONTEXT_FREE:
        high = parsed.getwidth()[1]
        window = high if high < sre.MAXREPEAT else None
    return prefix, tuple(runs), window


def _present(runs, buffer: bytes, from_start: bool) -> bool:
    """Every literal run in ``buffer``; for a match at its start (``from_start``), ended by its bound."""
    return all(buffer.find(run, 0, end if from_start and end is not None else len(buffer)) >= 0 for run, end in runs)


def _test(pos: str, regex: bytes):
    """(the pattern's test over (bof, eof) as FIDO applies it, the byte a BOF match must start with or None); None
    for a position FIDO ignores."""
    if pos not in ("BOF", *_SEARCHED):
        return None
    try:
        compiled = re.compile(regex)
    except (re.error, RecursionError, OverflowError, ValueError) as error:
        raise _Unusable(str(error)) from error
    prefix, runs, window = _plan(regex)
    if pos == "BOF":
        checked = tuple(r for r in runs if not prefix or r[0] != prefix)  # where the engine would scan far

        def test(bof: bytes, eof: bytes) -> bool:
            return bof.startswith(prefix) and _present(checked, bof, True) and compiled.match(bof) is not None
        return test, (prefix[0] if prefix else None)
    if pos == "EOF":
        def test(bof: bytes, eof: bytes) -> bool:
            tail = eof if window is None or window >= len(eof) else eof[-window:]
            return _present(runs, tail, False) and compiled.search(tail) is not None
    else:  # VAR, IFB: anywhere in the BOF window
        def test(bof: bytes, eof: bytes) -> bool:
            return _present(runs, bof, False) and compiled.search(bof) is not None
    return test, None


def _unusable(bof: bytes, eof: bytes) -> bool:
    raise _Unusable


def _compile_signature(fido, signature) -> tuple:
    """(name, tests, the byte a BOF must start with for the first test to pass, or None)."""
    tests, first_byte = [], None
    for pattern in fido.get_patterns(signature):
        try:
            test = _test(fido.get_pos(pattern), fido.get_regex(pattern))
        except (_Unusable, AttributeError):
            tests.append(_unusable)  # FIDO raises when it reaches it, not before
            break
        if test is not None:
            if not tests:
                first_byte = test[1]
            tests.append(test[0])
    return signature.findtext("name"), tuple(tests), first_byte


class CompiledSignatures:
    """A loaded ``fido.fido.Fido``'s signatures, compiled; :meth:`match_formats` answers what FIDO's does.

    Most signatures start with a BOF pattern whose first byte is a literal: the formats are indexed by the first
    byte of a BOF, and a format none of whose signatures can pass its first test is not visited (it could neither
    match nor raise, so the matches and their order are FIDO's)."""

    def __init__(self, fido) -> None:
        formats, starts = [], []
        for fmt in fido.formats:
            puid = fido.get_puid(fmt)
            signatures = tuple(_compile_signature(fido, s) for s in fido.get_signatures(fmt))
            formats.append((fmt, puid, fido.puid_has_priority_over_map[puid],
                            tuple(signature[:2] for signature in signatures)))
            starts.append({signature[2] for signature in signatures})
        self._any_start = tuple(f for f, start in zip(formats, starts) if None in start)
        self._by_first_byte = tuple(tuple(f for f, start in zip(formats, starts) if None in start or byte in start)
                                    for byte in range(256))

    def match_formats(self, bof: bytes, eof: bytes) -> list[tuple]:
        """``(format element, signature name)`` per matching signature, inferior matches removed, in FIDO's order."""
        found: list[tuple] = []  # (entry, signature name)

        def as_good_as_any(entry) -> bool:
            return not any(other is not entry and entry[1] in other[2] for other, _ in found)

        for entry in self._by_first_byte[bof[0]] if bof else self._any_start:
            if found and not as_good_as_any(entry):
                continue
            try:
                for name, tests in entry[3]:
                    if all(test(bof, eof) for test in tests):
                        found.append((entry, name))
            except _Unusable:
                continue
        return [(entry[0], name) for entry, name in found if as_good_as_any(entry)]
