"""A stand-in for WeCom's 客户联系 API, written from the documentation
(developer.work.weixin.qq.com/document/path/…): gettoken 91039, groupchat/list 92120,
groupchat/get 92122, add_msg_template 92135, get_groupmsg_task / get_groupmsg_send_result
93338, remind_groupmsg_send 97610, groupchat/statistic 92133, group_welcome_template/add|edit
92366, media/upload 90253; error codes 90313 (40014 invalid token, 42001 expired token,
45009 frequency limit, 48002 no API permission, 60020 IP not trusted).

Every answer is JSON with errcode / errmsg; list endpoints page with `cursor` / `next_cursor`
(an empty next_cursor ends the list).
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

CORP = "ww1436e0e65a779aee"
CONTACT_SECRET = "contact-secret-never-logged-456"


def ok(**fields: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **fields})


def err(code: int, msg: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": f"{msg}, hint: [1700000000_test]"})


class FakeContact:
    """Customer groups, members, 企业群发 tasks and what the owners did with them."""

    def __init__(self, secret: str = CONTACT_SECRET) -> None:
        self.secret = secret
        # the aiohttp test server it runs on (set by the fixture)
        self.server: Any = None
        self.valid: set[str] = set()
        self.issued = 0
        # chat_id → group_chat (as groupchat/get returns it)
        self.groups: dict[str, dict[str, Any]] = {}
        # page size the server uses at most (WeCom: the request's limit, 1..1000)
        self.page_cap = 1000
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # errcodes to answer the next API calls with (not gettoken)
        self.fail_next: list[int] = []
        # expire every token after this many successful API calls (token expiry mid-run)
        self.expire_after: int | None = None
        self._msgids = itertools.count(1)
        # msgid → {"owner", "chat_id_list", "text", "attachments", "sent": {chat_id: status}, "owner_status"}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.reminded: list[str] = []
        self.stats: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.uploads: list[tuple[str, int]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        base = "/cgi-bin/externalcontact/"
        for name, handler in {
            "groupchat/list": self.group_list, "groupchat/get": self.group_get,
            "add_msg_template": self.add_msg_template, "get_groupmsg_task": self.get_task,
            "get_groupmsg_send_result": self.get_send_result, "remind_groupmsg_send": self.remind,
            "groupchat/statistic": self.statistic, "group_welcome_template/add": self.welcome_add,
            "group_welcome_template/edit": self.welcome_edit,
        }.items():
            app.router.add_post(base + name, self._api(name, handler))
        app.router.add_post("/cgi-bin/media/upload", self.upload)
        return app

    # -- test set-up ------------------------------------------------------------------

    def add_group(self, chat_id: str, owner: str, name: str, members: list[dict[str, Any]] | None = None,
                  notice: str = "") -> dict[str, Any]:
        group = {
            "chat_id": chat_id, "name": name, "owner": owner, "create_time": 1700000000, "notice": notice,
            "member_list": members if members is not None else [
                {"userid": owner, "type": 1, "join_time": 1700000000, "join_scene": 1,
                 "invitor": {"userid": owner}, "group_nickname": "", "name": owner},
            ],
            "admin_list": [],
        }
        self.groups[chat_id] = group
        return group

    def confirm(self, msgid: str, results: dict[str, int] | None = None) -> None:
        """The owner taps 发送: every group sent (status 1) unless `results` says otherwise."""
        task = self.tasks[msgid]
        task["owner_status"] = 2
        task["sent"] = {c: (results or {}).get(c, 1) for c in task["chat_id_list"]}

    def expire_tokens(self) -> None:
        self.valid.clear()

    # -- endpoints ----------------------------------------------------------------------

    async def gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != CORP or request.query.get("corpsecret") != self.secret:
            return err(40001, "invalid credential")
        self.issued += 1
        token = f"CONTACT_TOKEN_{self.issued}"
        self.valid.add(token)
        return ok(access_token=token, expires_in=7200)

    def _api(self, name: str, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            token = request.query.get("access_token", "")
            if not token.startswith("CONTACT_TOKEN_"):
                return err(40014, "invalid access_token")
            if token not in self.valid:
                return err(42001, "access_token expired")
            if self.fail_next:
                code = self.fail_next.pop(0)
                return err(code, {45009: "api freq out of limit", 48002: "api forbidden",
                                  60020: "not allow to access from your ip"}.get(code, "error"))
            body = await request.json()
            self.calls.append((name, body))
            if self.expire_after is not None:
                self.expire_after -= 1
                if self.expire_after <= 0:
                    self.expire_after = None
                    self.expire_tokens()
            return await handler(body)
        return wrapped

    async def group_list(self, body: dict[str, Any]) -> web.Response:
        limit = int(body.get("limit") or 0)
        if not 1 <= limit <= 1000:
            return err(40058, "invalid limit")
        owners = set((body.get("owner_filter") or {}).get("userid_list") or [])
        ids = sorted(c for c, g in self.groups.items() if not owners or g["owner"] in owners)
        start = int(body.get("cursor") or 0)
        size = min(limit, self.page_cap)
        page = ids[start:start + size]
        nxt = str(start + size) if start + size < len(ids) else ""
        return ok(group_chat_list=[{"chat_id": c, "status": 0} for c in page], next_cursor=nxt)

    async def group_get(self, body: dict[str, Any]) -> web.Response:
        group = self.groups.get(body.get("chat_id", ""))
        if group is None:
            return err(90500, "not external group chat")
        if not body.get("need_name"):
            group = {**group, "member_list": [{k: v for k, v in m.items() if k != "name"}
                                              for m in group["member_list"]]}
        return ok(group_chat=group)

    async def add_msg_template(self, body: dict[str, Any]) -> web.Response:
        if body.get("chat_type") != "group" or not body.get("sender"):
            return err(41063, "sender required for group")
        chats = body.get("chat_id_list") or []
        if len(chats) > 2000:
            return err(40058, "chat_id_list exceeds 2000")
        for a in body.get("attachments") or []:
            kind = a.get("msgtype")
            if kind not in ("image", "link", "miniprogram", "video", "file") or kind not in a:
                return err(41048, "invalid attachments msgtype")
        fail = [c for c in chats if c not in self.groups or self.groups[c]["owner"] != body["sender"]]
        msgid = f"msgGCAAAXtWyujaWJHDDGi0mAC{next(self._msgids):04d}"
        self.tasks[msgid] = {"owner": body["sender"], "chat_id_list": [c for c in chats if c not in fail],
                             "text": (body.get("text") or {}).get("content", ""),
                             "attachments": body.get("attachments") or [], "owner_status": 0, "sent": {}}
        return ok(fail_list=fail, msgid=msgid)

    async def get_task(self, body: dict[str, Any]) -> web.Response:
        task = self.tasks.get(body.get("msgid", ""))
        if task is None:
            return err(41052, "invalid msgid")
        entry = {"userid": task["owner"], "status": task["owner_status"]}
        if task["owner_status"] == 2:
            entry["send_time"] = 1700003600
        return ok(next_cursor="", task_list=[entry])

    async def get_send_result(self, body: dict[str, Any]) -> web.Response:
        task = self.tasks.get(body.get("msgid", ""))
        if task is None or body.get("userid") != task["owner"]:
            return err(41052, "invalid msgid")
        rows = [{"chat_id": c, "userid": task["owner"], "status": task["sent"].get(c, 0),
                 **({"send_time": 1700003600} if task["sent"].get(c) == 1 else {})}
                for c in task["chat_id_list"]]
        return ok(next_cursor="", send_list=rows)

    async def remind(self, body: dict[str, Any]) -> web.Response:
        msgid = body.get("msgid", "")
        if msgid not in self.tasks:
            return err(41052, "invalid msgid")
        if self.reminded.count(msgid) >= 3:
            return err(41096, "remind limit")
        self.reminded.append(msgid)
        return ok()

    async def statistic(self, body: dict[str, Any]) -> web.Response:
        owners = (body.get("owner_filter") or {}).get("userid_list") or []
        items = [{"owner": o, "data": self.stats[o]} for o in owners if o in self.stats]
        return ok(total=len(items), next_offset=len(items), items=items)

    async def welcome_add(self, body: dict[str, Any]) -> web.Response:
        if not (body.get("text") or {}).get("content"):
            return err(41036, "empty content")
        template_id = f"msgXXXXXXX{len(self.templates) + 1}"
        self.templates[template_id] = body
        return ok(template_id=template_id)

    async def welcome_edit(self, body: dict[str, Any]) -> web.Response:
        if body.get("template_id") not in self.templates:
            return err(41065, "invalid template_id")
        self.templates[body["template_id"]] = body
        return ok()

    async def upload(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self.valid:
            return err(42001, "access_token expired")
        data = await request.post()
        media = data.get("media")
        content = media.file.read() if media is not None and hasattr(media, "file") else b""
        if not content:
            return err(44001, "empty media data")
        self.uploads.append((request.query.get("type", ""), len(content)))
        return ok(type=request.query.get("type", "image"), media_id=f"MEDIA_{len(self.uploads)}",
                  created_at="1700000000")
