"""Regex rules: compile once, refuse patterns that are unsafe to run on every message.

A pattern is refused when it does not compile, is too long, can match an empty string, or is
catastrophically slow. Slowness is measured, not guessed: each pattern runs in a separate
Python process against inputs built from its own atoms ("aaaa…!" for `(a+)+$`), and a
pattern that does not finish within the budget is killed and refused. One process checks a
whole batch, so importing many rules costs one interpreter start.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import select
import subprocess
import sys
import time
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

log = logging.getLogger("qunbot.keywords")

MAX_PATTERN_LENGTH = 300
# regex rules look at the first REGEX_TEXT_LIMIT characters of a message (see matcher.py)
REGEX_TEXT_LIMIT = 500
# a pattern is refused when one adversarial input takes longer than PER_INPUT_SECONDS, and
# killed when all of its inputs together take longer than BUDGET_SECONDS
PER_INPUT_SECONDS = 0.05
BUDGET_SECONDS = 1.0
SHORT, LONG = 28, REGEX_TEXT_LIMIT

ERR_SLOW = "正则表达式运行过慢（存在灾难性回溯的风险，例如 (a+)+ 这类嵌套重复），请改写得更明确"

_CHILD = r"""
import json, re, sys, time
jobs = json.loads(sys.stdin.read())
for i, (pattern, flags, inputs) in enumerate(jobs):
    rx = re.compile(pattern, flags)
    worst = 0.0
    for s in inputs:
        t = time.perf_counter()
        rx.search(s)
        worst = max(worst, time.perf_counter() - t)
    sys.stdout.write(f"{worst:.6f}\n")
    sys.stdout.flush()
"""


def flags_for(normalize: bool) -> int:
    return re.IGNORECASE if normalize else 0


def compile_pattern(pattern: str, normalize: bool = True) -> re.Pattern[str]:
    """Compile a rule's regex or raise ValueError with a zh-CN reason (no speed check)."""
    if not pattern:
        raise ValueError("正则表达式不能为空")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"正则表达式太长（{len(pattern)} 个字符，最多 {MAX_PATTERN_LENGTH}）")
    try:
        rx = re.compile(pattern, flags_for(normalize))
    except re.error as exc:
        raise ValueError(f"正则表达式无法编译：{_zh_error(exc)}") from None
    for probe in ("", "随便一句话 hello 123"):
        m = rx.search(probe)
        if m is not None and m.end() == m.start():
            raise ValueError("正则表达式会匹配空内容（每条消息都会命中），请至少要求一个字符")
    return rx


def _zh_error(exc: re.error) -> str:
    where = f"（第 {exc.pos + 1} 个字符处）" if exc.pos is not None else ""
    return f"{exc.msg}{where}"


# -- adversarial inputs -----------------------------------------------------------------------

_CATEGORY_CHARS = {
    C.CATEGORY_DIGIT: "1", C.CATEGORY_NOT_DIGIT: "a", C.CATEGORY_WORD: "a",
    C.CATEGORY_NOT_WORD: " ", C.CATEGORY_SPACE: " ", C.CATEGORY_NOT_SPACE: "a",
}
_FALLBACKS = "a1 _中.-"


def _atoms(pattern: str, flags: int) -> list[str]:
    """Representative characters of every literal, class and wildcard in the pattern."""
    out: list[str] = []

    def walk(items) -> None:
        for op, av in items:
            if op is C.LITERAL:
                out.append(chr(av))
            elif op is C.NOT_LITERAL:
                out.append("a" if av != ord("a") else "b")
            elif op is C.ANY:
                out.append("a")
            elif op is C.IN:
                out.extend(_class_chars(av))
            elif op is C.CATEGORY:
                out.append(_CATEGORY_CHARS.get(av, "a"))
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                walk(av[2])
            elif op is C.SUBPATTERN:
                walk(av[-1])
            elif op is C.BRANCH:
                for alt in av[1]:
                    walk(alt)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                walk(av[1])
            elif op is C.ATOMIC_GROUP:
                walk(av)

    walk(sre_parse.parse(pattern, flags))
    return list(dict.fromkeys(out))[:10]


def _class_chars(items) -> list[str]:
    chars: list[str] = []
    negate = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.append(chr(av))
        elif op is C.RANGE:
            chars.append(chr(av[0]))
        elif op is C.CATEGORY:
            chars.append(_CATEGORY_CHARS.get(av, "a"))
    if negate:
        return [c for c in _FALLBACKS if c not in chars][:1]
    return chars[:3]


def adversarial_inputs(pattern: str, flags: int = 0) -> list[str]:
    """Inputs that make backtracking regexes blow up: long runs of the pattern's own atoms, then a misfit."""
    try:
        atoms = _atoms(pattern, flags)
    except Exception:  # private parser API: fall back to generic inputs
        atoms = list("a1 中")
    atoms = atoms or ["a"]
    misfits = [c for c in ("!", "\x00", "\n", "。", "#") if c not in atoms][:3]
    inputs: list[str] = []
    for a in atoms:
        inputs.extend(a * SHORT + m for m in misfits)
        inputs.append(a * LONG + misfits[0])
    for a, b in itertools.combinations(atoms, 2):
        inputs.append((a + b) * (SHORT // 2) + misfits[0])
        inputs.append((a + b) * (LONG // 2) + misfits[0])
    seq = "".join(atoms)
    inputs.append(seq * (LONG // len(seq)) + misfits[0])
    return inputs


# -- the measured check -----------------------------------------------------------------------


def find_slow(patterns: list[tuple[str, bool]], budget: float = BUDGET_SECONDS) -> set[int]:
    """Indexes of (pattern, normalize) pairs that are too slow on their adversarial inputs."""
    jobs = [(p, flags_for(n), adversarial_inputs(p, flags_for(n))) for p, n in patterns]
    slow: set[int] = set()
    start = 0
    while start < len(jobs):
        try:
            worst = _run_child(jobs[start:], budget)
        except OSError:
            # cannot measure (no process could be started): refuse rather than risk a stalled bot
            log.exception("cannot start the regex check process")
            return slow | set(range(start, len(jobs)))
        slow.update(start + i for i, w in enumerate(worst) if w > PER_INPUT_SECONDS)
        if len(worst) == len(jobs) - start:
            break
        slow.add(start + len(worst))
        start += len(worst) + 1
    return slow


def _run_child(jobs: list, budget: float) -> list[float]:
    """Run jobs in one child process; returns the worst input time of each job finished in budget."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env,
    )
    worst: list[float] = []
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(jobs).encode())
        proc.stdin.close()
        fd = proc.stdout.fileno()
        buffer = b""
        # the first job also pays for the interpreter start
        deadline = time.monotonic() + budget + 0.5
        while len(worst) < len(jobs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return worst
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return worst
            chunk = os.read(fd, 4096)
            if not chunk:
                return worst  # the child died: count the current pattern as unsafe
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                worst.append(float(line))
                deadline = time.monotonic() + budget
        return worst
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def check_patterns(patterns: list[tuple[str, bool]]) -> dict[int, str]:
    """Full save-time check of many patterns: index → zh-CN reason for each refused one."""
    errors: dict[int, str] = {}
    runnable: list[int] = []
    for i, (pattern, normalize) in enumerate(patterns):
        try:
            compile_pattern(pattern, normalize)
            runnable.append(i)
        except ValueError as exc:
            errors[i] = str(exc)
    if runnable:
        for j in find_slow([patterns[i] for i in runnable]):
            errors[runnable[j]] = ERR_SLOW
    return errors


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
