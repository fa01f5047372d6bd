"""HTTP client for WeCom's 客户联系 (customer contact) API: customer groups, 企业群发,
group welcome templates, group statistics, temporary media.

Pages (developer.work.weixin.qq.com/document/path/…): groupchat/list 92120, groupchat/get
92122, add_msg_template 92135, get_groupmsg_task / get_groupmsg_send_result 93338,
remind_groupmsg_send 97610, groupchat/statistic 92133, group_welcome_template 92366,
media/upload 90253, gettoken 91039, error codes 90313.

It calls with the 客户联系 secret's token (or the app's, when the app is one of 客户联系's
可调用接口的应用): one token per corp + secret, shared with the app client when the secrets
are the same. Frequency limits (45009…) are waited out and the call repeated, up to
`max_waits` times, since sync and polling are not in a hurry; everything else raises.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.adapters.base import PermanentSendError, TransientSendError
from bot.adapters.wecom_api import HTTP_TIMEOUT, AccessToken, WecomApi

log = logging.getLogger("qunbot.adapters")

# WeCom's page sizes (the maximum each endpoint accepts)
LIST_LIMIT = 1000
RESULT_LIMIT = 1000
STAT_LIMIT = 1000
MAX_ATTACHMENTS = 9


class WecomContactApi(WecomApi):
    """客户联系 endpoints on top of the app client's token handling and error mapping."""

    def __init__(self, api_base: str, corp_id: str, secret: str, agent_id: str, *,
                 token: AccessToken | None = None, backoff_cap: float = 60.0, max_waits: int = 3,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(api_base, corp_id, secret, agent_id, monotonic)
        if token is not None:
            # the app client's token: same corp, same secret
            self.token = token
        self.backoff_cap = backoff_cap
        self.max_waits = max_waits
        self.waits = 0

    def __repr__(self) -> str:
        return f"WecomContactApi(corp_id={self.corp_id!r})"

    async def patient_call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """`call`, waiting out frequency limits (45009 and the like) a few times."""
        for attempt in range(self.max_waits + 1):
            try:
                return await self.call(path, payload)
            except TransientSendError as exc:
                if attempt == self.max_waits:
                    raise
                delay = min(exc.retry_after or 1.0, self.backoff_cap)
                self.waits += 1
                log.warning("企业微信 %s busy or rate-limited, waiting %.1fs: %s", path, delay, exc)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    # -- customer groups ------------------------------------------------------------

    async def group_ids(self, owners: list[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every customer group ({chat_id, status}), page by page (cursor paging)."""
        cursor = ""
        while True:
            payload: dict[str, Any] = {"status_filter": 0, "limit": LIST_LIMIT}
            if owners:
                payload["owner_filter"] = {"userid_list": owners[:100]}
            if cursor:
                payload["cursor"] = cursor
            data = await self.patient_call("/cgi-bin/externalcontact/groupchat/list", payload)
            for item in data.get("group_chat_list") or []:
                if isinstance(item, dict) and item.get("chat_id"):
                    yield item
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return

    async def group(self, chat_id: str) -> dict[str, Any]:
        """groupchat/get with members' names: owner, name, notice, member_list, admin_list."""
        data = await self.patient_call("/cgi-bin/externalcontact/groupchat/get",
                                       {"chat_id": chat_id, "need_name": 1})
        group = data.get("group_chat")
        if not isinstance(group, dict):
            raise PermanentSendError(f"企业微信 groupchat/get 未返回群 {chat_id} 的详情")
        return group

    # -- 企业群发 ------------------------------------------------------------------------

    async def add_group_msg(self, owner: str, chat_ids: list[str], text: str,
                            attachments: list[dict[str, Any]]) -> dict[str, Any]:
        """One 企业群发 task for `owner`'s groups: {msgid, fail_list}. Nothing is posted until
        the owner confirms it in their WeCom client."""
        body: dict[str, Any] = {"chat_type": "group", "sender": owner, "chat_id_list": chat_ids,
                                "allow_select": False}
        if text:
            body["text"] = {"content": text}
        if attachments:
            body["attachments"] = attachments[:MAX_ATTACHMENTS]
        return await self.call("/cgi-bin/externalcontact/add_msg_template", body)

    async def task_owners(self, msgid: str) -> list[dict[str, Any]]:
        """get_groupmsg_task: each member asked to send ({userid, status 0 unsent / 2 sent, send_time})."""
        out: list[dict[str, Any]] = []
        cursor = ""
        while True:
            payload: dict[str, Any] = {"msgid": msgid, "limit": RESULT_LIMIT}
            if cursor:
                payload["cursor"] = cursor
            data = await self.patient_call("/cgi-bin/externalcontact/get_groupmsg_task", payload)
            out.extend(t for t in data.get("task_list") or [] if isinstance(t, dict))
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return out

    async def send_results(self, msgid: str, owner: str) -> list[dict[str, Any]]:
        """get_groupmsg_send_result: per group of the owner ({chat_id, status, send_time})."""
        out: list[dict[str, Any]] = []
        cursor = ""
        while True:
            payload: dict[str, Any] = {"msgid": msgid, "userid": owner, "limit": RESULT_LIMIT}
            if cursor:
                payload["cursor"] = cursor
            data = await self.patient_call("/cgi-bin/externalcontact/get_groupmsg_send_result", payload)
            out.extend(r for r in data.get("send_list") or [] if isinstance(r, dict))
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return out

    async def remind(self, msgid: str) -> None:
        """remind_groupmsg_send: notify the owner(s) again (at most 3 times in 24 h per task)."""
        await self.call("/cgi-bin/externalcontact/remind_groupmsg_send", {"msgid": msgid})

    # -- statistics, welcome templates, media ---------------------------------------------

    async def group_statistic(self, day_begin: int, owners: list[str]) -> list[dict[str, Any]]:
        """groupchat/statistic aggregated by owner for one day: [{owner, data: {...}}]."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(owners), 100):
            offset = 0
            while True:
                data = await self.patient_call("/cgi-bin/externalcontact/groupchat/statistic", {
                    "day_begin_time": day_begin, "owner_filter": {"userid_list": owners[i:i + 100]},
                    "offset": offset, "limit": STAT_LIMIT,
                })
                items = [it for it in data.get("items") or [] if isinstance(it, dict)]
                out.extend(items)
                nxt = int(data.get("next_offset") or 0)
                total = int(data.get("total") or 0)
                if not items or nxt <= offset or nxt >= total:
                    break
                offset = nxt
        return out

    async def welcome_template(self, template_id: str, text: str,
                               attachments: dict[str, Any] | None = None) -> str:
        """group_welcome_template/add (no id yet) or /edit; returns the template id."""
        body: dict[str, Any] = {"text": {"content": text}, **(attachments or {})}
        if template_id:
            await self.call("/cgi-bin/externalcontact/group_welcome_template/edit",
                            {"template_id": template_id, **body})
            return template_id
        # agentid is only for old third-party suites; notify: tell the owners to apply it
        data = await self.call("/cgi-bin/externalcontact/group_welcome_template/add", {**body, "notify": 1})
        return str(data.get("template_id") or "")

    async def upload_media(self, path: str | Path, kind: str = "image") -> str:
        """media/upload (temporary material, 3 days): the media_id an attachment needs."""
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise PermanentSendError(f"附件 {file.name} 无法读取：{exc.strerror or exc}") from None
        token = await self.token.get()
        form = aiohttp.FormData()
        form.add_field("media", content, filename=file.name,
                       content_type=mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        url = self.api_base + "/cgi-bin/media/upload"
        try:
            async with self.session.post(url, params={"access_token": token, "type": kind}, data=form,
                                         timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT * 3)) as resp:
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientSendError(f"企业微信接口 /cgi-bin/media/upload 失败：{type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise TransientSendError("企业微信接口 /cgi-bin/media/upload 返回格式异常")
        code = int(data.get("errcode", 0) or 0)
        if code in (40014, 42001):
            self.token.invalidate(token)
        self.raise_for("/cgi-bin/media/upload", data)
        return str(data["media_id"])

    async def attachments(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """qunbot's attachments → add_msg_template's, uploading local files first.
        {type: image, path|url}, {type: link, title, url, desc?, picurl?},
        {type: miniprogram, title, appid, page, pic_path|pic_media_id}."""
        out: list[dict[str, Any]] = []
        for a in items:
            kind = a.get("type")
            if kind == "image":
                if a.get("path"):
                    out.append({"msgtype": "image", "image": {"media_id": await self.upload_media(a["path"])}})
                else:
                    out.append({"msgtype": "image", "image": {"pic_url": a.get("url", "")}})
            elif kind == "link":
                link = {k: a[k] for k in ("title", "url", "desc", "picurl") if a.get(k)}
                out.append({"msgtype": "link", "link": link})
            elif kind == "miniprogram":
                media = a.get("pic_media_id") or (await self.upload_media(a["pic_path"]) if a.get("pic_path") else "")
                out.append({"msgtype": "miniprogram", "miniprogram": {
                    "title": a.get("title", ""), "pic_media_id": media, "appid": a.get("appid", ""),
                    "page": a.get("page", ""),
                }})
            else:
                raise PermanentSendError(f"不支持的附件类型：{kind!r}（可用 image / link / miniprogram）")
        return out
