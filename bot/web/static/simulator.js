// The group-chat simulator page: polls the chat log, sends, joins and leaves (bot/web/templates/simulator.html).
(function () {
  const log = document.getElementById("chat-log");
  if (!log) return;
  const chat = log.dataset.chat;
  const csrf = window.qunbotCsrfToken();
  const err = document.getElementById("sim-error");
  const select = document.getElementById("member-select");
  let after = 0;
  function render(m) {
    const div = document.createElement("div");
    const sys = m.sender_id === "system" || m.type !== "message";
    div.className = "msg " + (m.direction === "out" ? "out" : "in") + (sys ? " sys" : "") + (m.status === "recalled" ? " recalled" : "");
    div.dataset.uid = m.uid;
    div.dataset.status = m.status;
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = m.sender + " · " + new Date(m.time).toLocaleTimeString("zh-CN");
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (m.type === "member_join") bubble.textContent = m.sender + " 加入了群聊";
    else if (m.type === "member_leave") bubble.textContent = m.sender + " 退出了群聊";
    else bubble.textContent = m.text;
    div.append(who, bubble);
    log.append(div);
  }
  function syncMembers(members) {
    const current = select.value;
    const ids = members.map(m => m.id).join(",");
    if (select.dataset.ids === ids) return;
    select.dataset.ids = ids;
    select.innerHTML = "";
    for (const m of members) {
      const o = document.createElement("option");
      o.value = m.id; o.textContent = m.name;
      if (m.id === current) o.selected = true;
      select.append(o);
    }
  }
  async function poll() {
    try {
      const r = await fetch("/sim/api/chats/" + encodeURIComponent(chat) + "/messages?after=" + after, {headers: {"Accept": "application/json"}});
      if (r.ok) {
        const data = await r.json();
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
        for (const m of data.messages) { render(m); after = Math.max(after, m.id); }
        syncMembers(data.members);
        if (atBottom || data.messages.length) log.scrollTop = log.scrollHeight;
      }
    } catch (e) { /* keep polling */ }
    setTimeout(poll, 700);
  }
  async function post(url, body) {
    err.textContent = "";
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json"}, body: JSON.stringify(body)});
    if (!r.ok) err.textContent = await r.text();
    return r;
  }
  document.getElementById("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("message-input");
    const text = input.value.trim();
    if (!text) return;
    const r = await post("/sim/api/send", {chat_id: chat, member_id: select.value, text});
    if (r.ok) input.value = "";
  });
  document.getElementById("join-button").addEventListener("click", async () => {
    const name = document.getElementById("join-name");
    if (!name.value.trim()) { err.textContent = "请填写新成员昵称"; return; }
    const r = await post("/sim/api/join", {chat_id: chat, name: name.value.trim()});
    if (r.ok) name.value = "";
  });
  document.getElementById("leave-button").addEventListener("click", () => post("/sim/api/leave", {chat_id: chat, member_id: select.value}));
  poll();
})();
