// #/messages — your conversations (Inbox, and Requests from people you do not follow),
// most recent first, each with its other members, the last message and the unread
// count; a form to start one. A new message arriving live refreshes the list.

import {get, post} from "../api.js";
import {ago, h, toast} from "../dom.js";
import {on} from "../live.js";
import {avatar} from "../components/media.js";
import {currentUser} from "../components/session.js";

export function others(thread, me) {
  const rest = thread.participants.filter((user) => !me || user.id !== me.id);
  return rest.length ? rest : thread.participants;
}

export function lastLine(message, me) {
  if (!message) return "No messages yet";
  const who = me && message.sender.id === me.id ? "You" : message.sender.username;
  const what = message.text || (message.media ? "sent a photo" : message.post ? "shared a post" : "");
  return `${who}: ${what}`;
}

export async function render(main, params) {
  let folder = params.query.get("folder") === "requests" ? "requests" : "inbox";
  let me = null;
  let gone = false;
  let refreshTimer = null;
  const inboxTab = h("button", {type: "button", class: "tab", onclick: () => choose("inbox")}, "Inbox");
  const requestsTab = h("button", {type: "button", class: "tab", onclick: () => choose("requests")}, "Requests");
  const list = h("ul", {class: "thread-list", "aria-label": "Conversations"});
  const status = h("p", {class: "thread-status", role: "status"});
  const more = h("button", {type: "button", class: "more", hidden: true, onclick: () => load(false)}, "Older conversations");
  const to = h("input", {id: "new-message-to", name: "to", autocomplete: "off", required: true, placeholder: "alice, bob"});
  const start = h("button", {type: "submit"}, "Start conversation");
  const form = h("form", {class: "new-thread", "aria-label": "New message", onsubmit: startThread},
    h("label", {for: "new-message-to"}, "To (usernames)"), h("div", {class: "row"}, to, start));
  main.append(
    h("h1", {class: "screen-title"}, "Messages"),
    form,
    h("div", {class: "tabs", role: "group", "aria-label": "Folder"}, inboxTab, requestsTab),
    status, list, more,
  );
  let cursor = null;

  async function startThread(event) {
    event.preventDefault();
    const usernames = to.value.split(/[\s,]+/).map((name) => name.replace(/^@/, "")).filter(Boolean);
    if (!usernames.length) return;
    start.disabled = true;
    try {
      const thread = await post("/api/v1/threads", {usernames});
      location.hash = `#/messages/${thread.id}`;
    } catch (error) {
      toast(error.message);
    } finally {
      start.disabled = false;
    }
  }

  function row(thread) {
    const names = others(thread, me).map((user) => user.username).join(", ");
    const unread = thread.unread_count;
    return h("li", {class: unread ? "thread unread" : "thread"},
      h("a", {href: `#/messages/${thread.id}`, class: "thread-link"},
        avatar(others(thread, me)[0]),
        h("span", {class: "thread-text"},
          h("span", {class: "thread-names"}, names),
          h("span", {class: "thread-last"}, lastLine(thread.last_message, me))),
        h("span", {class: "thread-meta"},
          h("time", {datetime: thread.last_activity_at}, ago(thread.last_activity_at)),
          unread ? h("span", {class: "count"}, h("span", {class: "visually-hidden"}, "unread: "), String(unread)) : null)));
  }

  async function load(fresh) {
    try {
      const path = `/api/v1/threads?folder=${folder}${!fresh && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await get(path);
      if (gone) return;
      if (fresh) list.replaceChildren();
      list.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = list.children.length ? "" : folder === "requests" ? "No message requests." : "No conversations yet.";
    } catch (error) {
      if (!gone) toast(error.message);
    }
  }

  async function choose(which) {
    folder = which;
    inboxTab.setAttribute("aria-pressed", String(folder === "inbox"));
    requestsTab.setAttribute("aria-pressed", String(folder === "requests"));
    cursor = null;
    await load(true);
  }

  const unsubscribe = on("message", (frame) => {
    const sender = frame.message && frame.message.sender;
    if (sender && (!me || sender.id !== me.id)) status.textContent = `New message from ${sender.username}`;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => load(true), 300);
  });

  me = await currentUser();
  await choose(folder);
  return () => {
    gone = true;
    unsubscribe();
    clearTimeout(refreshTimer);
  };
}
