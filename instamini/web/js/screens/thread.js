// #/messages/:threadId — one conversation, live.
//
// History comes newest first from the API; it is shown oldest at the top, and older
// pages load when the top comes into view. Sending goes over the socket (pending until
// its `ack`) or by POST when the socket is not open; `message` frames for this thread
// are appended as they come; `typing` frames show "NAME is typing…" for 4 s; the
// newest message, once visible, is marked read (`read` frame or POST), and "Seen"
// appears under your last message when another member's `read` frame covers it.

import {get, post} from "../api.js";
import {ago, h, toast} from "../dom.js";
import * as live from "../live.js";
import {avatar} from "../components/media.js";
import {currentUser} from "../components/session.js";

const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 4000;
const PAGE = 30;

// Messages and read receipts go over the socket only when it is known to be open (else
// by POST); live.js tells that through isOpen() where it has it. send() alone cannot say
// whether it sent, and a frame sent and then POSTed too would store the message twice.
const socketOpen = () => typeof live.isOpen === "function" && live.isOpen() === true;

const after = (a, b) => BigInt(a) > BigInt(b); // ids are increasing integers, as strings
const atLeast = (a, b) => BigInt(a) >= BigInt(b);

function imageUrl(media) {
  const variants = media.variants || [];
  const images = variants.filter((v) => v.role === "image" || v.role === "poster").sort((a, b) => a.width - b.width);
  const chosen = images.find((v) => v.width >= 480) || images[images.length - 1] || variants.find((v) => v.role === "fallback");
  return chosen ? chosen.url : "";
}

export async function render(main, params) {
  const threadId = params.threadId;
  let me = null;
  let thread = null;
  let cursor = null;
  let loadingOlder = false;
  let gone = false;
  let lastTypingSent = 0;
  let readSent = "0";
  const typingTimers = new Map(); // user id -> timer
  const reads = new Map(); // user id -> the last message id they read
  const pending = new Map(); // client id -> element

  const title = h("h1", {class: "thread-title"}, "Conversation");
  const requestBox = h("div", {class: "request-box", hidden: true});
  const top = h("li", {class: "log-top", "aria-hidden": "true"});
  const log = h("ol", {class: "message-log", role: "log", "aria-labelledby": "thread-title-id", tabindex: "0"}, top);
  title.id = "thread-title-id";
  const typing = h("p", {class: "typing", role: "status"});
  const input = h("input", {id: "message-text", name: "text", autocomplete: "off", maxlength: "2000", required: true, placeholder: "Write something…"});
  const sendButton = h("button", {type: "submit", class: "send"}, "Send");
  const form = h("form", {class: "composer", onsubmit: submit},
    h("label", {for: "message-text", class: "visually-hidden"}, "Message"), input, sendButton);
  const view = h("section", {class: "thread-view"},
    h("header", {class: "thread-header"}, h("a", {href: "#/messages", class: "back"}, "‹ Inbox"), title),
    requestBox, log, typing, form);
  main.append(view);

  const nameOf = (userId) => {
    const user = thread && thread.participants.find((person) => person.id === userId);
    return user ? user.username : "someone";
  };
  const mine = (message) => me && message.sender.id === me.id;
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  const toBottom = () => (log.scrollTop = log.scrollHeight);

  function bubble(message, state) {
    const own = mine(message);
    const parts = [];
    if (!own && thread && thread.kind === "group") parts.push(h("span", {class: "msg-sender"}, message.sender.username));
    if (message.media) parts.push(h("img", {class: "msg-media", src: imageUrl(message.media), alt: message.media.alt_text || "A photo"}));
    if (message.post) {
      parts.push(h("a", {class: "msg-post", href: `#/p/${message.post.id}`},
        h("span", {class: "msg-post-author"}, message.post.author.username), h("span", {}, message.post.caption || "Shared post")));
    } else if (message.post_id) parts.push(h("span", {class: "muted"}, "A post you cannot see"));
    if (message.text) parts.push(h("p", {class: "msg-text"}, message.text));
    const meta = h("span", {class: "msg-meta"},
      state === "pending" ? "Sending…" : h("time", {datetime: message.created_at, title: new Date(message.created_at).toLocaleString()}, ago(message.created_at)));
    const li = h("li", {class: `msg ${own ? "mine" : "theirs"}${state === "pending" ? " pending" : ""}`}, ...parts, meta);
    if (message.id) li.dataset.id = message.id;
    return li;
  }

  const newest = () => {
    const items = log.querySelectorAll("li.msg[data-id]");
    return items.length ? items[items.length - 1] : null;
  };

  function has(id) {
    return Boolean(log.querySelector(`li.msg[data-id="${CSS.escape(id)}"]`));
  }

  // Place a stored message in order (frames and answers may cross on the wire).
  function place(message, replacing) {
    if (has(message.id)) {
      if (replacing) replacing.remove();
      return;
    }
    log.querySelectorAll(".log-empty").forEach((empty) => empty.remove());
    const element = bubble(message, "stored");
    if (replacing) replacing.replaceWith(element);
    else {
      let spot = null;
      for (const other of log.querySelectorAll("li.msg[data-id]")) {
        if (after(other.dataset.id, message.id)) { spot = other; break; }
      }
      if (spot) spot.before(element);
      else {
        const firstPending = log.querySelector("li.msg.pending");
        if (firstPending) firstPending.before(element);
        else log.append(element);
      }
    }
    seenWatch();
    showSeen();
  }

  // "Seen" under your last message once another member has read up to it.
  function showSeen() {
    log.querySelectorAll(".seen").forEach((mark) => mark.remove());
    const own = [...log.querySelectorAll("li.msg.mine[data-id]")];
    const last = own[own.length - 1];
    if (!last || !thread) return;
    const readers = thread.participants.filter((user) => user.id !== me.id && reads.has(user.id) && atLeast(reads.get(user.id), last.dataset.id));
    if (!readers.length) return;
    const text = thread.kind === "group" ? `Seen by ${readers.map((user) => user.username).join(", ")}` : "Seen";
    last.after(h("li", {class: "seen"}, text));
  }

  // Mark the newest message read once it is on screen (and the page is visible).
  const visible = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) markRead();
  }, {root: log, threshold: 0.5});
  function seenWatch() {
    visible.disconnect();
    const last = newest();
    if (last) visible.observe(last);
  }
  function markRead() {
    const last = newest();
    if (!last || document.visibilityState !== "visible" || gone || !thread || thread.folder === "requests") return;
    const id = last.dataset.id;
    if (!after(id, readSent)) return;
    readSent = id;
    if (socketOpen()) live.send({type: "read", thread_id: threadId, message_id: id});
    else {
      post(`/api/v1/threads/${threadId}/read`, {message_id: id}).catch((error) => !gone && toast(error.message));
    }
  }
  const onVisibility = () => document.visibilityState === "visible" && seenWatch();
  document.addEventListener("visibilitychange", onVisibility);

  async function older() {
    if (loadingOlder || !cursor || gone) return;
    loadingOlder = true;
    try {
      const page = await get(`/api/v1/threads/${threadId}/messages?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
      if (gone) return;
      const height = log.scrollHeight;
      const fresh = page.items.filter((message) => !has(message.id)).reverse().map((message) => bubble(message, "stored"));
      top.after(...fresh);
      log.scrollTop += log.scrollHeight - height;
      cursor = page.next_cursor;
      showSeen();
    } catch (error) {
      if (!gone) toast(error.message);
    } finally {
      loadingOlder = false;
    }
  }
  const topWatch = new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && older(), {root: log});

  function failed(element, message, reason) {
    element.classList.add("failed");
    const retry = h("button", {type: "button", class: "retry", onclick: () => { element.remove(); deliver(message.text); }}, "Retry");
    element.querySelector(".msg-meta").replaceChildren(h("span", {role: "alert"}, `Not sent: ${reason}`), " ", retry);
  }

  function deliver(text) {
    const clientId = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const draft = {id: "", thread_id: threadId, sender: me, text, media: null, post: null, post_id: null, created_at: new Date().toISOString()};
    const element = bubble(draft, "pending");
    element.dataset.client = clientId;
    log.querySelectorAll(".log-empty").forEach((empty) => empty.remove());
    log.append(element);
    toBottom();
    if (socketOpen()) {
      live.send({type: "message", thread_id: threadId, text, client_id: clientId});
      element.dataset.socket = "1";
      pending.set(clientId, element);
      return;
    }
    post(`/api/v1/threads/${threadId}/messages`, {text})
      .then((message) => !gone && place(message, element))
      .catch((error) => !gone && failed(element, draft, error.message));
  }

  function submit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !me) return;
    input.value = "";
    deliver(text);
    input.focus();
  }

  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value && now - lastTypingSent >= TYPING_EVERY_MS) {
      lastTypingSent = now;
      live.send({type: "typing", thread_id: threadId}); // dropped when the socket is closed
    }
  });

  function showTyping() {
    const names = [...typingTimers.keys()].map(nameOf);
    typing.textContent = names.length ? `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…` : "";
  }

  const subscriptions = [
    live.on("message", (frame) => {
      if (frame.thread_id !== threadId || !frame.message) return;
      const bottom = nearBottom();
      const sender = frame.message.sender.id;
      if (typingTimers.has(sender)) {
        clearTimeout(typingTimers.get(sender));
        typingTimers.delete(sender);
        showTyping();
      }
      // Your own message, pushed to this socket too when it went by POST: it replaces
      // its pending copy if that is still waiting for the answer.
      const waiting = mine(frame.message) && !has(frame.message.id)
        ? [...log.querySelectorAll("li.msg.pending:not([data-socket])")].find((el) => el.querySelector(".msg-text")?.textContent === frame.message.text)
        : null;
      place(frame.message, waiting || undefined);
      if (bottom || mine(frame.message)) toBottom();
    }),
    live.on("ack", (frame) => {
      const element = pending.get(frame.client_id);
      if (!element) return;
      pending.delete(frame.client_id);
      if (frame.message) place(frame.message, element);
    }),
    live.on("error", (frame) => {
      const [clientId, element] = pending.entries().next().value || [];
      if (!element) return;
      pending.delete(clientId);
      failed(element, {text: element.querySelector(".msg-text")?.textContent || ""}, frame.detail || "refused");
    }),
    live.on("typing", (frame) => {
      if (frame.thread_id !== threadId || (me && frame.user_id === me.id)) return;
      clearTimeout(typingTimers.get(frame.user_id));
      typingTimers.set(frame.user_id, setTimeout(() => {
        typingTimers.delete(frame.user_id);
        showTyping();
      }, TYPING_SHOWN_MS));
      showTyping();
    }),
    live.on("read", (frame) => {
      if (frame.thread_id !== threadId || !frame.message_id) return;
      if (me && frame.user_id === me.id) {
        if (after(frame.message_id, readSent)) readSent = frame.message_id; // read on another device
        return;
      }
      const before = reads.get(frame.user_id);
      if (!before || after(frame.message_id, before)) reads.set(frame.user_id, frame.message_id);
      showSeen();
    }),
  ];

  const cleanup = () => {
    gone = true;
    subscriptions.forEach((unsubscribe) => unsubscribe());
    typingTimers.forEach((timer) => clearTimeout(timer));
    visible.disconnect();
    topWatch.disconnect();
    document.removeEventListener("visibilitychange", onVisibility);
  };

  try {
    const [who, card, page] = await Promise.all([
      currentUser(),
      get(`/api/v1/threads/${threadId}`),
      get(`/api/v1/threads/${threadId}/messages?limit=${PAGE}`),
    ]);
    if (!who) throw new Error("Log in to see your messages.");
    me = who;
    thread = card;
    cursor = page.next_cursor;
    const others = thread.participants.filter((user) => user.id !== me.id);
    const names = (others.length ? others : thread.participants).map((user) => user.username);
    title.replaceChildren(thread.kind === "direct" && others.length === 1
      ? h("a", {href: `#/u/${encodeURIComponent(names[0])}`, class: "user-link"}, avatar(others[0]), names[0])
      : names.join(", "));
    for (const read of thread.reads) if (read.message_id) reads.set(read.user_id, read.message_id);
    if (reads.has(me.id)) readSent = reads.get(me.id);
    if (thread.folder === "requests") {
      const accept = h("button", {type: "button", class: "primary", onclick: async () => {
        accept.disabled = true;
        try {
          thread = await post(`/api/v1/threads/${threadId}/accept`);
          requestBox.hidden = true;
          input.focus();
          markRead();
        } catch (error) {
          accept.disabled = false;
          toast(error.message);
        }
      }}, "Accept");
      requestBox.replaceChildren(h("p", {}, `${names.join(", ")} wants to send you a message. Accept to move this conversation to your inbox.`), accept);
      requestBox.hidden = false;
    }
    log.append(...page.items.slice().reverse().map((message) => bubble(message, "stored")));
    if (!page.items.length) log.append(h("li", {class: "log-empty muted"}, "No messages yet. Say hi!"));
    showSeen();
    toBottom();
    seenWatch();
    topWatch.observe(top);
  } catch (error) {
    view.replaceChildren(h("p", {role: "alert"}, error.status === 404 ? "This conversation does not exist." : error.message),
      h("a", {href: "#/messages"}, "Back to messages"));
  }
  return cleanup;
}
