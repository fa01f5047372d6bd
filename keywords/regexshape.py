"""The shape of a regex, read from Python's own parser: nested repetitions that can split the
same text many ways (`(a+)+`: refused when a rule is saved), and the literals every match must
contain (the keyword automaton's prefilter, so most messages never run a regex)."""

from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]  # re's private parser: not in the stubs
from re import _parser as sre_parse  # type: ignore[attr-defined]  # re's private parser: not in the stubs

# -- nested repetition (static) ----------------------------------------------------------------

REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)
_CATEGORY_ESCAPES = {
    C.CATEGORY_DIGIT: r"\d", C.CATEGORY_NOT_DIGIT: r"\D", C.CATEGORY_WORD: r"\w",
    C.CATEGORY_NOT_WORD: r"\W", C.CATEGORY_SPACE: r"\s", C.CATEGORY_NOT_SPACE: r"\S",
}
# characters tried when deciding whether two character sets overlap (plus each set's own ends)
_PROBES = "".join(map(chr, range(9, 127))) + "中价格元，。！？：、（）　ａ１_\u00e9\u00a0"


def nested_repeat(pattern: str, flags: int = 0) -> bool:
    """True when a repetition holds a variable-length repetition with nothing to tell the rounds apart.

    `(a+)+`, `(\\w+\\s?)+`, `((a)+.)+`: one text splits into exponentially many rounds. A body
    with a required character that none of its inner repetitions can match is fine: `(\\d+,)+`.
    """
    try:
        return _nested(list(sre_parse.parse(pattern, flags)), flags)
    except Exception:  # private parser API: leave it to the measurement
        return False


def _nested(items: list, flags: int) -> bool:
    for op, av in items:
        if op in REPEATS:
            if av[1] >= 2 and _ambiguous_body(list(av[2]), flags):
                return True
            if _nested(list(av[2]), flags):
                return True
        for sub in children(op, av):
            if _nested(sub, flags):
                return True
    return False


def children(op, av) -> list[list]:
    if op is C.SUBPATTERN:
        return [list(av[-1])]
    if op is C.BRANCH:
        return [list(alt) for alt in av[1]]
    if op in (C.ASSERT, C.ASSERT_NOT):
        return [list(av[1])]
    if op is C.ATOMIC_GROUP:
        return [list(av)]
    if op is C.POSSESSIVE_REPEAT:
        return [list(av[2])]
    if op is C.GROUPREF_EXISTS:
        return [list(x) for x in av[1:] if x is not None]
    return []


def _ambiguous_body(body: list, flags: int) -> bool:
    inner: list[str] = []  # character classes the body's variable repetitions can match
    _variable_classes(body, inner, inside=False)
    if not inner:
        return False
    for cls in _required_classes(body):
        if not any(_overlap(cls, other, flags) for other in inner):
            return False  # a required separator none of the repetitions can eat
    return True


def _variable_classes(items: list, out: list[str], inside: bool) -> None:
    """Classes of every single-character element inside a variable, backtracking repetition."""
    for op, av in items:
        if op in REPEATS:
            variable = inside or av[1] > av[0]
            _variable_classes(list(av[2]), out, variable)
        elif op in (C.ATOMIC_GROUP, C.POSSESSIVE_REPEAT):
            continue  # no backtracking into it
        elif inside and (cls := _class_of(op, av)) is not None:
            out.append(cls)
        else:
            for sub in children(op, av):
                _variable_classes(sub, out, inside)


def _required_classes(items: list) -> list[str]:
    """Single-character elements every round must match, in order (groups flattened)."""
    out: list[str] = []
    for op, av in items:
        if op is C.SUBPATTERN:
            out.extend(_required_classes(list(av[-1])))
        elif op in REPEATS and av[0] >= 1 and len(av[2]) == 1:
            cls = _class_of(*av[2][0])
            if cls is not None:
                out.append(cls)
        elif (cls := _class_of(op, av)) is not None:
            out.append(cls)
    return out


def _class_of(op, av) -> str | None:
    """A one-character element as a pattern of its own, or None for anything else."""
    if op is C.LITERAL:
        return re.escape(chr(av))
    if op is C.NOT_LITERAL:
        return "[^" + re.escape(chr(av)) + "]"
    if op is C.ANY:
        return "."
    if op is C.CATEGORY:
        return _CATEGORY_ESCAPES.get(av, ".")
    if op is C.IN:
        parts: list[str] = []
        for iop, iav in av:
            if iop is C.NEGATE:
                parts.insert(0, "^")
            elif iop is C.LITERAL:
                parts.append(re.escape(chr(iav)))
            elif iop is C.RANGE:
                parts.append(re.escape(chr(iav[0])) + "-" + re.escape(chr(iav[1])))
            elif iop is C.CATEGORY:
                parts.append(_CATEGORY_ESCAPES.get(iav, r"\s\S"))
            else:
                return "."
        return "[" + "".join(parts) + "]"
    return None


def _overlap(a: str, b: str, flags: int) -> bool:
    """Whether two one-character classes share a character (tested on probes and their own ends)."""
    ra, rb = re.compile(a, flags | re.DOTALL), re.compile(b, flags | re.DOTALL)
    ends = "".join(ch for ch in re.findall(r"[^\\\[\]^\-]", a + b))
    return any(ra.fullmatch(ch) and rb.fullmatch(ch) for ch in _PROBES + ends)


# -- the measured check -----------------------------------------------------------------------


# -- required literals (prefilter) ---------------------------------------------------------------

def required_literals(pattern: str, flags: int = 0) -> list[str]:
    """Literals such that every match contains at least one of them ([] when none can be found).

    Used as a prefilter: the automaton looks for these, and the regex runs only when one is in
    the text. `价格.*多少` → ["价格"]; `(?:退款|发货)吗` → ["退款", "发货"]; `\\d+` → [].
    With IGNORECASE the literals are lower-cased and stop at characters with non-simple case folding.
    """
    try:
        items = sre_parse.parse(pattern, flags)
    except Exception:  # private parser API: no prefilter, the regex always runs
        return []
    found = _literal_set(list(items), bool(flags & re.IGNORECASE))
    return sorted(found) if found else []


def required_literal(pattern: str, flags: int = 0) -> str:
    """The best single required literal, or "" (see `required_literals`)."""
    found = required_literals(pattern, flags)
    return found[0] if len(found) == 1 else ""


_MAX_ALTERNATIVES = 16


def _literal_set(items: list, caseless: bool) -> set[str] | None:
    candidates: list[set[str]] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            candidates.append({"".join(run)})
            run.clear()

    for op, av in items:
        if op is C.LITERAL:
            ch = chr(av)
            if not caseless or ch.isascii() or ch.lower() == ch.upper():
                run.append(ch.lower() if caseless else ch)
                continue
        end_run()
        sub: set[str] | None = None
        if op is C.SUBPATTERN:
            sub = _literal_set(list(av[-1]), caseless)
        elif op is C.BRANCH:
            sub = set()
            for alt in av[1]:
                alt_set = _literal_set(list(alt), caseless)
                if not alt_set:
                    sub = None
                    break
                sub |= alt_set
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
            sub = _literal_set(list(av[2]), caseless)
        if sub and len(sub) <= _MAX_ALTERNATIVES:
            candidates.append(sub)
    end_run()
    if not candidates:
        return None
    return max(candidates, key=lambda c: (min(len(s) for s in c), -len(c)))
