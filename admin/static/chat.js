// The web chat page: sign in with phone + one-time code, then a WebSocket to the desk.
// Every message the page sends carries a client id (cid) and is kept until the desk acks it;
// after a reconnect the unacked ones are sent again (the desk handles each cid once).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const pending = new Map(); // cid -> {frame, el}
  const shown = new Map(); // message id -> element
  let ws = null;
  let retry = 0;
  let failedOpens = 0;
  let replyTo = null;

  function toast(text) {
    if (!text) return;
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function status(text) { $("status").textContent = text; }

  function cid() {
    const a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!data) return { ok: false, error: r.status === 403 ? "页面已过期，请刷新后重试。" : "网络异常，请稍后重试。" };
    return data;
  }

  // ------------------------------------------------------------ sign-in

  $("code-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    const phone = $("phone").value.trim();
    if (!phone) { $("signin-error").textContent = "请输入手机号。"; return; }
    $("get-code").disabled = true;
    const r = await post("/chat/api/code", { phone });
    $("get-code").disabled = false;
    if (!r.ok) { $("signin-error").textContent = r.error; return; }
    $("hint").textContent = r.hint;
    $("signin-form").hidden = false;
    $("code").focus();
  });

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    const r = await post("/chat/api/signin", { phone: $("phone").value.trim(), code: $("code").value.trim() });
    if (!r.ok) { $("signin-error").textContent = r.error; return; }
    document.querySelector('meta[name="csrf-token"]').content = r.csrf;
    const p = $("phone").value.trim().replace(/\D/g, "").slice(-11);
    $("who").textContent = p.slice(0, 3) + "****" + p.slice(-4);
    $("signin").hidden = true;
    $("chat").hidden = false;
    $("signout").hidden = false;
    connect();
  });

  $("signout").addEventListener("click", async () => {
    await post("/chat/api/signout", {});
    window.location.reload();
  });

  // ------------------------------------------------------------ messages

  function render(m) {
    let el = shown.get(m.id);
    if (!el) {
      el = document.createElement("div");
      el.dataset.id = String(m.id);
      shown.set(m.id, el);
      const log = $("log");
      // Keep the history in id order even when an older message arrives late.
      const later = Array.from(log.querySelectorAll(".msg[data-id]")).find((n) => Number(n.dataset.id) > m.id);
      log.insertBefore(el, later || null);
    }
    el.className = "msg " + (m.dir === "in" ? "in" : "out");
    el.innerHTML = m.html; // sanitized on the server: only a few formatting tags
    if (m.buttons && m.buttons.length) {
      const box = document.createElement("div");
      box.className = "buttons";
      for (const row of m.buttons) {
        const r = document.createElement("div");
        r.className = "row";
        for (const [label, data] of row) {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = label;
          b.addEventListener("click", () => pressButton(m.id, data));
          r.appendChild(b);
        }
        box.appendChild(r);
      }
      el.appendChild(box);
    }
    if (m.file) {
      const a = document.createElement("a");
      a.href = "/chat/file/" + m.file.id;
      a.textContent = "📎 下载：" + m.file.name;
      a.className = "file";
      a.setAttribute("download", m.file.name);
      el.appendChild(document.createElement("br"));
      el.appendChild(a);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = new Date(m.at).toLocaleString("zh-CN", { hour12: false }) + (m.edited ? "（已更新）" : "");
    if (m.dir === "out") {
      const rb = document.createElement("button");
      rb.type = "button";
      rb.textContent = "回复";
      rb.addEventListener("click", () => {
        replyTo = m.id;
        $("replying-text").textContent = el.textContent.slice(0, 40);
        $("replying").hidden = false;
        $("text").focus();
      });
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(rb);
    }
    el.appendChild(meta);
  }

  function scrollDown() { const log = $("log"); log.scrollTop = log.scrollHeight; }

  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function sendText(text) {
    const frame = { t: "text", cid: cid(), text, reply_to: replyTo };
    const el = document.createElement("div");
    el.className = "msg in pending";
    el.textContent = text;
    $("log").appendChild(el);
    scrollDown();
    pending.set(frame.cid, { frame, el });
    replyTo = null;
    $("replying").hidden = true;
    sendFrame(frame);
  }

  function pressButton(mid, data) {
    const frame = { t: "press", cid: cid(), mid, data };
    pending.set(frame.cid, { frame, el: null });
    sendFrame(frame);
  }

  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = "";
    sendText(text);
  });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("send-form").requestSubmit();
    }
  });
  for (const b of document.querySelectorAll("[data-command]")) {
    b.addEventListener("click", () => sendText(b.dataset.command));
  }
  $("file").addEventListener("change", async () => {
    const input = $("file");
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    const form = new FormData();
    form.append("cid", cid());
    if (replyTo !== null) form.append("reply_to", String(replyTo));
    form.append("caption", $("text").value.trim());
    form.append("file", file);
    const el = document.createElement("div");
    el.className = "msg in pending";
    el.textContent = "📎 " + file.name + "（上传中…）";
    $("log").appendChild(el);
    scrollDown();
    let r = null;
    try {
      const resp = await fetch("/chat/api/upload", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }, body: form,
      });
      r = await resp.json();
    } catch (e) { r = { ok: false, error: "上传失败，请检查网络后重试。" }; }
    el.remove(); // the desk's own copy of it is in the history when it was taken
    if (!r.ok) { toast(r.error); return; }
    $("text").value = "";
    replyTo = null;
    $("replying").hidden = true;
  });
  $("reply-cancel").addEventListener("click", () => { replyTo = null; $("replying").hidden = true; });

  function onFrame(ev) {
    let f;
    try { f = JSON.parse(ev.data); } catch (e) { return; }
    if (f.t === "messages") {
      for (const m of f.items) render(m);
      scrollDown();
    } else if (f.t === "ack") {
      const p = pending.get(f.cid);
      pending.delete(f.cid);
      if (p && p.el) p.el.remove(); // the desk's own copy of it is in the history now
      toast(f.toast);
    } else if (f.t === "nack") {
      const p = pending.get(f.cid);
      if (p && p.el) {
        p.el.classList.add("failed");
        const again = document.createElement("button");
        again.type = "button";
        again.textContent = "重发";
        again.addEventListener("click", () => { p.el.classList.remove("failed"); again.remove(); sendFrame(p.frame); });
        p.el.appendChild(document.createTextNode(" "));
        p.el.appendChild(again);
      } else {
        pending.delete(f.cid);
      }
      toast(f.error);
    } else if (f.t === "error") {
      toast(f.error);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(scheme + "//" + location.host + "/chat/ws");
    let opened = false;
    status("连接中…");
    ws.addEventListener("open", () => {
      opened = true;
      retry = 0;
      failedOpens = 0;
      status("已连接");
      for (const { frame } of pending.values()) ws.send(JSON.stringify(frame)); // unacked: again
    });
    ws.addEventListener("message", onFrame);
    ws.addEventListener("close", () => {
      status("连接已断开，正在重连…");
      if (!opened && ++failedOpens >= 3) {
        window.location.reload(); // signed out elsewhere or expired: the page shows sign-in
        return;
      }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry);
    });
  }

  if (!$("chat").hidden) connect();
})();
