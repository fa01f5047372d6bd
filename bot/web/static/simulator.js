// The group-chat simulator page: polls the chat log, sends, joins and leaves (bot/web/templates/simulator.html).
(function () {
  const log = document.getElementById("chat-log");
  if (!log) return;
  const chat = log.dataset.chat;
  const privateChat = log.dataset.private;
  const csrf = window.qunbotCsrfToken();
  const err = document.getElementById("sim-error");
  const select = document.getElementById("member-select");
  const state = document.getElementById("member-state");
  const sendButton = document.getElementById("send-button");
  const input = document.getElementById("message-input");
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
    if (m.why) {
      // the decision trace of this message (or of the message that caused this reply/notice)
      const why = document.createElement("a");
      why.className = "why";
      why.href = "/sim/why/" + encodeURIComponent(m.why);
      why.textContent = "为什么";
      who.append(" · ", why);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (m.type === "member_join") bubble.textContent = m.sender + " 加入了群聊";
    else if (m.type === "member_leave") bubble.textContent = m.sender + " 退出了群聊";
    else bubble.textContent = m.text;
    div.append(who, bubble);
    log.append(div);
  }
  // Whether the selected member may speak; a removed or muted one is kept selected but cannot post.
  function showState() {
    if (!select) return;
    const o = select.selectedOptions[0];
    const blocked = o && o.dataset.canPost === "0";
    state.textContent = blocked ? o.textContent.replace(/（.*$/, "") + " " + o.dataset.reason + "，不能发言" : "";
    sendButton.disabled = !!blocked;
    input.disabled = !!blocked;
  }
  function syncMembers(members) {
    if (!select) return;
    const current = select.value;
    const sig = JSON.stringify(members);
    if (select.dataset.sig === sig) { showState(); return; }
    select.dataset.sig = sig;
    select.innerHTML = "";
    for (const m of members) {
      const o = document.createElement("option");
      const gone = m.state === "removed" || m.state === "left";
      o.value = m.id;
      o.textContent = m.name + (gone ? "（" + m.reason + "）" : "");
      o.dataset.canPost = m.can_post ? "1" : "0";
      o.dataset.reason = m.reason;
      if (gone) o.className = "gone";
      if (m.id === current) o.selected = true;
      select.append(o);
    }
    showState();
  }
  const url = privateChat
    ? "/sim/api/private/" + encodeURIComponent(privateChat) + "/messages?after="
    : "/sim/api/chats/" + encodeURIComponent(chat) + "/messages?after=";
  async function poll() {
    try {
      const r = await fetch(url + after, {headers: {"Accept": "application/json"}});
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
  if (select) {
    select.addEventListener("change", showState);
    showState();
    document.getElementById("composer").addEventListener("submit", async (e) => {
      e.preventDefault();
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
  }
  poll();
})();
