"""试一试 in a manager's words: the closest stored question, how similar it is, and why the
bot answers, suggests or stays silent, naming the threshold that decided. The technical
breakdown (features, BM25, words) stays on the page behind 详细."""

from __future__ import annotations

from dataclasses import dataclass

from intents.engine import FaqEngine
from intents.model import Match


@dataclass(slots=True)
class Explanation:
    outcome: str  # answer / suggest / silent
    closest: str  # the closest stored question ("" when there is none)
    entry_id: str
    score: float
    likeness: str  # 几乎一样 / 很像 / 有点像 / 不太像
    why: str
    threshold: str  # the threshold that decided, in words
    how: str  # compared by meaning and wording, or by wording alone


def likeness(score: float, answer: float, suggest: float) -> str:
    if score >= 95:
        return "几乎一样"
    if score >= answer:
        return "很像"
    if score >= suggest:
        return "有点像"
    return "不太像"


def explain(engine: FaqEngine, match: Match) -> Explanation:
    t = engine.thresholds
    best = match.best
    if best is None:
        return Explanation("silent", "", "", 0.0, "不太像",
                           "没有找到任何相近的已存问法，所以机器人不回答。", "", "")
    if best.fused:
        answer, suggest, margin = t.semantic_answer, t.semantic_suggest, t.semantic_margin
        how = "按意思和字面一起比较（语义相似度）"
    else:
        answer, suggest, margin = t.answer, t.suggest, t.margin
        how = "按字面比较（字面已足够确定，没有再按意思比较）" if engine.semantic else "按字面比较"
    runner = match.candidates[1] if len(match.candidates) > 1 else None
    lead = best.score - (runner.score if runner else 0.0)
    like = likeness(best.score, answer, suggest)
    answer_line = f"回答线 {answer:g} 分"
    suggest_line = f"建议线 {suggest:g} 分"
    if match.outcome == "answer":
        why = (f"相似度 {best.score:.0f} 分，达到{answer_line}，"
               + (f"并且比第二接近的条目 {runner.entry_id}（{runner.score:.0f} 分）高出 {lead:.0f} 分"
                  f"（至少要高 {margin:g} 分），" if runner else "没有别的条目接近，")
               + "所以直接回答。")
        threshold = f"{answer_line}，领先至少 {margin:g} 分"
    elif match.outcome == "suggest":
        if best.score >= answer and lead < margin and runner is not None:
            why = (f"相似度 {best.score:.0f} 分已达{answer_line}，但条目 {runner.entry_id} 也很接近"
                   f"（只差 {lead:.0f} 分，至少要差 {margin:g} 分），分不清是哪一个，所以请成员自己选。")
            threshold = f"领先至少 {margin:g} 分"
        elif best.score >= answer and engine.demoted(best.entry_id):
            why = "这个条目的回答常被成员标记“没用”，所以只作为建议给出，不直接回答。"
            threshold = "被标记“没用”的比例"
        else:
            why = (f"相似度 {best.score:.0f} 分，没到{answer_line}，但达到{suggest_line}，"
                   "所以给出“您是想问…”让成员确认。")
            threshold = f"{suggest_line}（回答线 {answer:g} 分）"
    else:
        if best.score >= suggest and not best.keyword:
            why = ("和已存问法只有“什么/怎么/时候”这类疑问词相同，没有共同的关键词，意思也不够接近，"
                   "所以机器人不回答。")
            threshold = "需要有共同关键词或意思足够接近"
        else:
            why = f"相似度 {best.score:.0f} 分，低于{suggest_line}，所以机器人不回答（会记入“未回答问题”）。"
            threshold = suggest_line
    return Explanation(match.outcome, best.question, best.entry_id, best.score, like, why, threshold, how)
