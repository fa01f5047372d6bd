"""Regex rules: one check for every way a rule comes in, and a time bound on every match.

`check_patterns` is the check: config load (so `check-config` and `run` agree), start-up, the
CSV/JSON import, the console and the CLI all call it (through `rules.clean_rule` and
`manage.validate_rules`). A pattern is refused when it does not compile, is too long, can match
an empty string, nests repetitions that can split the same text many ways (`(a+)+`, found
statically), or is slow on inputs built from its own atoms and shape (`价格` + "aaaa…" + "!"):
measured with Python's backtracking `re` in a separate process that is killed past the budget.

The bot runs the rules with the `regex` engine (same syntax in its V0 mode) and a per-match
`timeout`: a pattern that slipped past the check (or was stored before it) cannot stall the loop.
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
from re import _constants as C  # type: ignore[attr-defined]  # re's private parser: not in the stubs
from re import _parser as sre_parse  # type: ignore[attr-defined]  # re's private parser: not in the stubs

import regex

from keywords.regexshape import REPEATS, children, nested_repeat

log = logging.getLogger("qunbot.keywords")

MAX_PATTERN_LENGTH = 300
# regex rules look at the first REGEX_TEXT_LIMIT characters of a message (see matcher.py)
REGEX_TEXT_LIMIT = 500
# a pattern is refused when one adversarial input takes longer than PER_INPUT_SECONDS, and
# killed when all of its inputs together take longer than BUDGET_SECONDS
PER_INPUT_SECONDS = 0.05
BUDGET_SECONDS = 1.0
# at run time one rule gets this long per message; past it the rule does not match that message
MATCH_BUDGET_SECONDS = 0.05
SHORT, LONG = 28, REGEX_TEXT_LIMIT

ERR_SLOW = "正则表达式运行过慢（存在灾难性回溯的风险，例如 (a+)+ 这类嵌套重复），请改写得更明确"
ERR_NESTED = (
    "正则表达式运行过慢：重复里又套着重复（例如 (a+)+、(\\w+\\s?)+），特定消息会让它灾难性回溯，"
    "请去掉外层的重复或用固定的分隔符隔开（例如 (\\d+,)+）"
)

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


def runtime_pattern(pattern: str, normalize: bool = True) -> regex.Pattern[str]:
    """The compiled form the matcher runs (the `regex` engine, V0: Python `re` syntax); no checks."""
    return regex.compile(pattern, regex.IGNORECASE if normalize else 0)


def compile_pattern(pattern: str, normalize: bool = True) -> regex.Pattern[str]:
    """The quick part of the check (no timing); raises ValueError with a zh-CN reason.

    The syntax is Python `re`'s (what the docs promise, and what the analysis below parses);
    the `regex` engine that runs it must accept it too.
    """
    if not pattern:
        raise ValueError("正则表达式不能为空")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"正则表达式太长（{len(pattern)} 个字符，最多 {MAX_PATTERN_LENGTH}）")
    try:
        re.compile(pattern, flags_for(normalize))
        rx = runtime_pattern(pattern, normalize)
    except (re.error, regex.error) as exc:
        raise ValueError(f"正则表达式无法编译：{_zh_error(exc)}") from None
    for probe in ("", "随便一句话 hello 123"):
        try:
            m = rx.search(probe, timeout=MATCH_BUDGET_SECONDS)
        except TimeoutError:
            raise ValueError(ERR_SLOW) from None
        if m is not None and m.end() == m.start():
            raise ValueError("正则表达式会匹配空内容（每条消息都会命中），请至少要求一个字符")
    if nested_repeat(pattern, flags_for(normalize)):
        raise ValueError(ERR_NESTED)
    return rx


# The compilers' messages (English) by how they start, as a manager reads them.
_ZH_ERRORS = (
    ("unterminated character set", "方括号 [ 没有闭合"),
    ("missing ), unterminated subpattern", "圆括号 ( 没有闭合"),
    ("missing )", "圆括号 ( 没有闭合"),
    ("unbalanced parenthesis", "多了一个右括号 )"),
    ("min repeat greater than max repeat", "重复次数 {m,n} 中 m 大于 n"),
    ("nothing to repeat", "*、+、? 或 {n} 前面没有可重复的内容"),
    ("multiple repeat", "重复符号连用（如 ** 或 +*），如要匹配符号本身请加 \\"),
    ("redefinition of group name", "分组名重复"),
    ("bad escape (end of pattern)", "结尾多了一个反斜杠 \\"),
    ("bad escape", "无法识别的转义写法（反斜杠后面的字符）"),
    ("bad character range", "字符范围写反了（如 [z-a]，应写成 [a-z]）"),
    ("look-behind requires fixed-width pattern", "向后查找 (?<=…) 里只能写固定长度的内容"),
    ("bad character in group name", "分组名只能用字母、数字和下划线，且不能以数字开头"),
    ("invalid group reference", "引用了不存在的分组"),
    ("unknown group name", "引用了不存在的分组名"),
    ("unknown extension", "无法识别的 (? 写法"),
    ("missing group name", "分组缺少名字"),
    ("unknown flag", "无法识别的标志"),
    ("unterminated name", "分组名没有闭合"),
    ("bad inline flags", "内联标志写法有误"),
    ("unknown property", "无法识别的 \\p{…} 字符类别"),
)


def _zh_error(exc: re.error | regex.error) -> str:
    pos = getattr(exc, "pos", None)
    where = f"（第 {pos + 1} 个字符处）" if pos is not None else ""
    msg = str(getattr(exc, "msg", exc))
    text = next((zh for prefix, zh in _ZH_ERRORS if msg.startswith(prefix)), "写法有误")
    return f"{text}{where}"


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
    try:
        inputs.extend(s + m for s in _pumped(pattern, flags) for m in misfits[:2])
    except Exception:  # private parser API: the atom runs above still apply
        pass
    return inputs


def _pumped(pattern: str, flags: int) -> list[str]:
    """Texts shaped like the pattern with one repetition pumped: `价格(a+)+$` → 价格aaaa….

    Runs of bare atoms miss a slow part behind a required prefix; these keep the prefix.
    """
    items = list(sre_parse.parse(pattern, flags))
    repeats: list[object] = []

    def find(seq: list) -> None:
        for op, av in seq:
            if op in REPEATS or op is C.POSSESSIVE_REPEAT:
                if av[1] >= 2:
                    repeats.append(av)
                find(list(av[2]))
            for sub in children(op, av):
                if op is not C.POSSESSIVE_REPEAT:
                    find(sub)

    find(items)
    out: list[str] = []
    for target in repeats[:10]:
        for times in (SHORT, LONG):
            text = _sample(items, target, times)
            out.append(text[:LONG])
    return list(dict.fromkeys(out))


def _sample(items: list, target: object, times: int) -> str:
    """One text the items (nearly) match, with the `target` repetition taken `times` times."""
    out: list[str] = []
    for op, av in items:
        if op in REPEATS or op is C.POSSESSIVE_REPEAT:
            body = _sample(list(av[2]), target, times)
            count = times if av is target else max(av[0], 1)
            out.append(body * min(count, max(1, LONG // max(len(body), 1))))
        elif op is C.SUBPATTERN or op is C.ATOMIC_GROUP:
            out.append(_sample(list(av[-1] if op is C.SUBPATTERN else av), target, times))
        elif op is C.BRANCH:
            out.append(_sample(list(av[1][0]), target, times))
        elif op is C.LITERAL:
            out.append(chr(av))
        elif op is C.IN:
            out.append((_class_chars(av) or ["a"])[0])
        elif op is C.CATEGORY:
            out.append(_CATEGORY_CHARS.get(av, "a"))
        elif op in (C.ANY, C.NOT_LITERAL):
            out.append("a" if not (op is C.NOT_LITERAL and av == ord("a")) else "b")
    return "".join(out)


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


# patterns measured fast in this process (config load and start-up check the same rules twice)
_measured_fast: set[tuple[str, bool]] = set()


def check_patterns(patterns: list[tuple[str, bool]]) -> dict[int, str]:
    """The check, for many patterns at once: index → zh-CN reason for each refused one.

    Blocks for up to a second per slow pattern: call it off the event loop.
    """
    errors: dict[int, str] = {}
    runnable: list[int] = []
    for i, (pattern, normalize) in enumerate(patterns):
        try:
            compile_pattern(pattern, normalize)
        except ValueError as exc:
            errors[i] = str(exc)
            continue
        if (pattern, normalize) not in _measured_fast:
            runnable.append(i)
    if runnable:
        slow = find_slow([patterns[i] for i in runnable])
        for j, i in enumerate(runnable):
            if j in slow:
                errors[i] = ERR_SLOW
            elif len(_measured_fast) < 10_000:
                _measured_fast.add(patterns[i])
    return errors
