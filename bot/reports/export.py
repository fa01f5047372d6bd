"""Report exporters: sectioned CSV (UTF-8 with BOM for Excel), XLSX (one sheet per section), HTML.

Member names and messages are untrusted: CSV/XLSX cells that would start a spreadsheet
formula are neutralised, HTML is escaped by Jinja's autoescape and the SVG charts module.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from bot.reports.charts import charts_for
from bot.reports.figures import METRICS, Report

FORMATS = ("csv", "xlsx", "html")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    """One report section: a title, column headers and rows of plain values."""

    title: str
    headers: list[str]
    rows: list[list[Any]]


def _metric_cols(row: dict[str, Any]) -> list[int]:
    return [row[key] for key, _ in METRICS]


def tables(report: Report) -> list[Table]:
    """The report as tables, in the same order in every format."""
    metric_headers = [label for _, label in METRICS]
    categories = [c for c, _ in report.categories]
    return [
        Table("汇总", ["项目", "数值"], [
            ["时间段", f"{report.start.isoformat()} 至 {report.end.isoformat()}"],
            ["范围", report.scope], ["时区", report.timezone],
            ["数据来源", "qunbot 自行记录" + (WECOM_SOURCE_NOTE if report.platform_stats else "")],
            *[[label, report.totals[key]] for key, label in METRICS],
        ]),
        Table("每日", ["日期", *metric_headers],
              [[d, *_metric_cols(report.by_day[d])] for d in report.days]),
        Table("各群", ["群聊", "平台", "群ID", "标签", *metric_headers],
              [[c["name"], c["platform"], c["chat_id"], "、".join(c["tags"]), *_metric_cols(c)]
               for c in report.by_chat]),
        Table("每日各群", ["日期", "群聊", *metric_headers],
              [[r["day"], r["name"], *_metric_cols(r)] for r in report.by_day_chat]),
        Table("各标签", ["标签", *metric_headers], [[t["tag"], *_metric_cols(t)] for t in report.by_tag]),
        Table("拦截分类", ["分类", "次数"], [[c, n] for c, n in report.categories]),
        Table("每日拦截分类", ["日期", *categories],
              [[d, *[report.categories_by_day.get(d, {}).get(c, 0) for c in categories]]
               for d in report.days]),
        Table("各群拦截分类", ["群聊", *categories],
              [[name, *[cats.get(c, 0) for c in categories]] for name, cats in report.categories_by_chat.items()]),
        Table("热门关键词", ["规则", "关键词", "回复次数"],
              [[k["id"], k["keyword"], k["count"]] for k in report.top_keywords]),
        Table("热门问答", ["条目", "问题", "回答次数"],
              [[f["id"], f["question"], f["count"]] for f in report.top_faq]),
        Table("未回答问题", ["问题", "次数", "相似问法"],
              [[c.text, c.count, " / ".join(c.variants)] for c in report.top_unanswered]),
        Table("违规最多成员", ["成员", "成员ID", "群聊", "次数", "分类"],
              [[m["member_name"], m["member_id"], m["chat_name"], m["count"], m["categories"]]
               for m in report.top_flagged]),
    ] + ([wecom_stats_table(report.platform_stats)] if report.platform_stats else [])


WECOM_SOURCE_NOTE = "；「企业微信客户群统计」一表来自企业微信"
# WeCom's groupchat/statistic fields, in the order the report shows them
WECOM_STATS = [("chat_total", "群总数"), ("new_chat_cnt", "新增群"), ("chat_has_msg", "有发言的群"),
               ("member_total", "群总人数"), ("new_member_cnt", "新增人数"), ("member_has_msg", "发言人数"),
               ("msg_total", "消息总数")]


def wecom_stats_table(stats: list[dict[str, Any]]) -> Table:
    """企业微信's own customer-group figures, per day and owner, labelled with their source
    (the other tables are what qunbot recorded itself)."""
    headers = ["日期", "群主", *[label for _, label in WECOM_STATS], "数据来源"]
    return Table("企业微信客户群统计（来源：企业微信）", headers,
                 [[s["day"], s["owner"], *[s["data"].get(k, 0) for k, _ in WECOM_STATS],
                   "企业微信 groupchat/statistic"] for s in stats])


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(report: Report) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([report.title])
    for table in tables(report):
        writer.writerow([])
        writer.writerow([f"【{table.title}】"])
        writer.writerow(table.headers)
        writer.writerows([[safe_cell(v) for v in row] for row in table.rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook()
    blank = wb.active
    assert blank is not None, "a new workbook has one sheet"
    wb.remove(blank)
    bold = Font(bold=True)
    for table in tables(report):
        ws = wb.create_sheet(table.title[:31])
        ws.append(table.headers)
        for cell in ws[1]:
            cell.font = bold
        for row in table.rows:
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
            for cell in ws[ws.max_row]:
                # keep member-written text as text: never let "=…" become a formula
                if cell.data_type == "f":
                    cell.data_type = "s"
        for i, header in enumerate(table.headers, 1):
            width = max([len(str(header))] + [len(str(r[i - 1])) for r in table.rows[:200]]) + 2
            ws.column_dimensions[ws.cell(1, i).column_letter].width = min(50, max(8, width * 1.6))
        ws.freeze_panes = "A2"
    wb.properties.title = report.title
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=jinja2.select_autoescape(default=True),
)


def to_html(report: Report) -> bytes:
    """A standalone page (inline CSS, inline SVG): opens offline, can be mailed or printed."""
    page = _ENV.get_template("report.html").render(
        report=report, tables=tables(report), charts=charts_for(report))
    return page.encode("utf-8")


def export(report: Report, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"不支持的格式 {fmt}（可选 csv、xlsx、html）")
    return {"csv": to_csv, "xlsx": to_xlsx, "html": to_html}[fmt](report)
