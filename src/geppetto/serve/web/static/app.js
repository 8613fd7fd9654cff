// The web chat page: stored sessions, a profile picker, streamed replies with Stop, collapsed
// reasoning and tool calls, Markdown. Every piece of text from the server is put into the page
// with textContent or through GeppettoMarkdown (which builds nodes from text), never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const md = () => window.GeppettoMarkdown;
  const state = { session: null, profiles: [], controller: null, sessions: [] };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function status(text) { $("status").textContent = text || ""; }

  // A server bound beyond loopback wants its API key (Authorization: Bearer) on /api/ requests.
  // The key is asked for after the first 401 and kept for this tab only (sessionStorage).
  const KEY_STORAGE = "geppetto.apiKey";

  function withKey(headers) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers["Authorization"] = "Bearer " + key;
    return headers;
  }

  function askForKey() {
    $("key-form").hidden = false;
    $("api-key").focus();
    return new Error("this server needs its API key: enter it above");
  }

  async function useKey(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $("api-key").value = "";
    $("key-form").hidden = true;
    status("");
    try {
      await loadProfiles();
      await loadSessions();
      await openFromAddress();
    } catch (err) {
      status(err.message);
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (opts.body !== undefined) opts.headers["Content-Type"] = "application/json";
    withKey(opts.headers);
    const response = await fetch(path, opts);
    if (response.status === 401) throw askForKey();
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (body.error && body.error.message) || response.status + " " + response.statusText;
      throw new Error(message);
    }
    return body;
  }

  // -- profiles ----------------------------------------------------------------------------

  function profileLabel(p) {
    const name = p.name || "default settings";
    const detail = [p.provider, p.model].filter(Boolean).join(" · ");
    return detail && p.name ? name + " (" + detail + ")" : name;
  }

  async function loadProfiles() {
    const data = await api("/api/profiles");
    state.profiles = data.profiles;
    const select = $("profile");
    select.replaceChildren();
    for (const p of data.profiles) {
      const option = el("option", "", profileLabel(p));
      option.value = p.name;
      if (p.error) option.disabled = true;
      select.appendChild(option);
    }
    select.value = data.default;
  }

  function selectProfile(name) {
    if (name !== null && state.profiles.some((p) => p.name === name)) $("profile").value = name;
  }

  // -- sessions ----------------------------------------------------------------------------

  async function loadSessions() {
    const data = await api("/api/sessions");
    state.sessions = data.sessions;
    const list = $("sessions");
    list.replaceChildren();
    for (const s of data.sessions) {
      const li = el("li");
      li.dataset.id = s.id;
      if (s.id === state.session) li.classList.add("active");
      const open = el("button", "open");
      open.type = "button";
      open.title = s.id;
      open.appendChild(el("span", "title", s.title || "(untitled)"));
      const facts = [s.turn_count + (s.turn_count === 1 ? " turn" : " turns")];
      if (s.running) facts.push("answering…");
      else if (s.last_outcome && s.last_outcome !== "completed") facts.push(s.last_outcome);
      if (s.forked_from_session) facts.push("fork");
      open.appendChild(el("span", "meta", facts.join(" · ")));
      open.addEventListener("click", () => openSession(s.id));
      const fork = el("button", "fork", "Fork");
      fork.type = "button";
      fork.title = "continue in a new session from here";
      fork.addEventListener("click", () => forkSession(s.id));
      const del = el("button", "delete", "Delete");
      del.type = "button";
      del.title = "delete this session";
      del.addEventListener("click", () => deleteSession(s.id, del));
      li.append(open, fork, del);
      list.appendChild(li);
    }
  }

  function setSession(id) {
    state.session = id;
    $("session-label").textContent = id ? "session " + id : "new session";
    const hash = id ? "#session=" + encodeURIComponent(id) : "";
    if (window.location.hash !== hash) history.replaceState(null, "", hash || window.location.pathname);
    for (const li of $("sessions").children) li.classList.toggle("active", li.dataset.id === id);
  }

  async function openSession(id) {
    if (state.controller) return status("stop the reply before switching sessions");
    try {
      const doc = await api("/api/sessions/" + encodeURIComponent(id));
      setSession(doc.session.id);
      selectProfile(doc.profile);
      renderMessages(doc.messages, doc.outcome, doc.error);
      status("");
    } catch (err) {
      status(err.message);
    }
  }

  async function forkSession(id) {
    try {
      const fork = await api("/api/sessions/" + encodeURIComponent(id) + "/fork", { method: "POST", body: "{}" });
      await loadSessions();
      await openSession(fork.id);
    } catch (err) {
      status(err.message);
    }
  }

  async function deleteSession(id, button) {
    if (!button.classList.contains("confirm")) {
      button.classList.add("confirm");
      button.textContent = "Sure?";
      setTimeout(() => { button.classList.remove("confirm"); button.textContent = "Delete"; }, 4000);
      return;
    }
    try {
      await api("/api/sessions/" + encodeURIComponent(id), { method: "DELETE" });
      if (state.session === id) newChat();
      await loadSessions();
    } catch (err) {
      status(err.message);
    }
  }

  function newChat() {
    if (state.controller) return status("stop the reply first");
    setSession(null);
    $("messages").replaceChildren();
    status("");
    $("input").focus();
  }

  // -- messages ----------------------------------------------------------------------------

  function copyButton(getText) {
    const button = el("button", "copy", "Copy");
    button.type = "button";
    button.title = "copy the reply's Markdown";
    button.addEventListener("click", () => md().copyText(getText(), button));
    return button;
  }

  function userMessage(text) {
    const node = el("div", "msg user");
    node.appendChild(el("div", "role", "you"));
    node.appendChild(el("div", "body", text));
    return node;
  }

  // An assistant reply: reasoning and tool calls collapsed, the text as Markdown, a copy button.
  class Reply {
    constructor() {
      this.node = el("div", "msg assistant");
      this.node.appendChild(el("div", "role", "assistant"));
      this.extras = el("div", "extras");
      this.body = el("div", "body md");
      this.text = "";
      this.reasoning = null;
      this.tools = new Map();
      this.pending = false;
      this.node.append(this.extras, this.body, copyButton(() => this.text));
    }
    addText(delta) {
      this.text += delta;
      if (!this.pending) {
        this.pending = true;
        requestAnimationFrame(() => { this.pending = false; this.render(); });
      }
    }
    render() { this.body.replaceChildren(md().render(this.text)); }
    addReasoning(delta) {
      if (!this.reasoning) {
        const details = el("details", "reasoning");
        details.appendChild(el("summary", "", "Reasoning"));
        this.reasoning = el("pre", "");
        details.appendChild(this.reasoning);
        this.extras.appendChild(details);
      }
      this.reasoning.textContent += delta;
    }
    toolCall(id, name, input) {
      const details = el("details", "tool");
      details.dataset.callId = id;
      details.appendChild(el("summary", "", "Tool call: " + name));
      details.appendChild(el("div", "muted", "arguments"));
      details.appendChild(el("pre", "args", input));
      this.extras.appendChild(details);
      this.tools.set(id, details);
    }
    toolResult(id, result, error) {
      let details = this.tools.get(id);
      if (!details) { this.toolCall(id, "(unknown)", ""); details = this.tools.get(id); }
      if (details.querySelector(".result")) return;
      details.appendChild(el("div", "muted", error ? "error" : "result"));
      details.appendChild(el("pre", "result", error || result));
    }
    badge(text, isError) { this.node.appendChild(el("div", isError ? "badge error" : "badge", text)); }
  }

  function renderMessages(messages, outcome, error) {
    const box = $("messages");
    box.replaceChildren();
    let reply = null;
    for (const m of messages) {
      if (m.kind === "user") {
        reply = null;
        box.appendChild(userMessage(m.text + (m.images ? "  [" + m.images + " image(s)]" : "")));
      } else if (m.kind === "system") {
        const node = el("details", "msg system");
        node.appendChild(el("summary", "", "System prompt"));
        node.appendChild(el("div", "body", m.text));
        box.appendChild(node);
      } else {
        if (!reply) { reply = new Reply(); box.appendChild(reply.node); }
        if (m.kind === "assistant") { reply.text += (reply.text ? "\n\n" : "") + m.text; reply.render(); }
        else if (m.kind === "reasoning") reply.addReasoning(m.text);
        else if (m.kind === "tool_call") reply.toolCall(m.id, m.name, m.input);
        else if (m.kind === "tool_result") reply.toolResult(m.id, m.result, m.error);
        else reply.extras.appendChild(el("pre", "", m.text));
      }
    }
    if (outcome && outcome !== "completed") {
      if (!reply) { reply = new Reply(); box.appendChild(reply.node); }
      reply.badge(outcome === "cancelled" ? "stopped" : "failed: " + (error || outcome), outcome !== "cancelled");
    }
    box.scrollTop = box.scrollHeight;
  }

  // -- sending -----------------------------------------------------------------------------

  function setBusy(busy) {
    $("send").hidden = busy;
    $("stop").hidden = !busy;
    $("profile").disabled = busy;
  }

  function handle(record, reply) {
    switch (record.type) {
      case "session": setSession(record.session_id); break;
      case "text": reply.addText(record.delta); break;
      case "reasoning": reply.addReasoning(record.delta); break;
      case "tool-call": reply.toolCall(record.id, record.name, record.input); break;
      case "tool-result": reply.toolResult(record.id, record.result, ""); break;
      case "done":
        if (record.outcome === "cancelled") reply.badge("stopped");
        else if (record.outcome === "failed") reply.badge("failed: " + record.error, true);
        break;
      default: break;
    }
  }

  async function send(event) {
    if (event) event.preventDefault();
    const input = $("input");
    const message = input.value.trim();
    if (!message || state.controller) return;
    status("");
    const box = $("messages");
    box.appendChild(userMessage(message));
    const reply = new Reply();
    reply.node.classList.add("streaming");
    box.appendChild(reply.node);
    box.scrollTop = box.scrollHeight;
    input.value = "";
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    const payload = { message, session: state.session, profile: $("profile").value };
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: withKey({ "Content-Type": "application/json" }),
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
      if (response.status === 401) throw askForKey();
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || "the server answered " + response.status);
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          const chunk = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of chunk.split("\n")) {
            if (line.startsWith("data: ")) handle(JSON.parse(line.slice(6)), reply);
          }
          box.scrollTop = box.scrollHeight;
        }
      }
    } catch (err) {
      if (err.name === "AbortError") reply.badge("stopped");
      else {
        reply.badge("failed: " + err.message, true);
        status(err.message);
        if (!input.value) input.value = message;  // not sent: keep it for another try
      }
    } finally {
      reply.render();
      reply.node.classList.remove("streaming");
      state.controller = null;
      setBusy(false);
      refreshSoon();
    }
  }

  // A stopped reply is stored by the server once it notices the closed connection.
  function refreshSoon() {
    loadSessions().catch((err) => status(err.message));
    setTimeout(() => loadSessions().catch(() => {}), 400);
    setTimeout(() => loadSessions().catch(() => {}), 1500);
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  // The address names the open session (#session=<id>), so reload and bookmarks come back to it.
  async function openFromAddress() {
    const m = /^#session=(.+)$/.exec(window.location.hash);
    if (m && decodeURIComponent(m[1]) !== state.session) await openSession(decodeURIComponent(m[1]));
  }

  async function init() {
    $("composer").addEventListener("submit", send);
    $("stop").addEventListener("click", stop);
    $("new-chat").addEventListener("click", newChat);
    $("key-form").addEventListener("submit", useKey);
    $("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
    });
    window.addEventListener("hashchange", () => openFromAddress().catch((err) => status(err.message)));
    try {
      await loadProfiles();
      await loadSessions();
      await openFromAddress();
    } catch (err) {
      status(err.message);
    }
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", init);
})();
