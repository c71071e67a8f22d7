// #/notifications — likes, comments, follows, requests, mentions and messages, newest
// first, each a sentence ("alice and 3 others liked your post") linking to the post,
// profile or conversation. Opening the screen marks them read (up to the newest item's
// cursor) and clears the badge; new ones arrive live and are marked read while shown.

import {get, post} from "../api.js";
import {ago, h, toast} from "../dom.js";
import {on} from "../live.js";
import {avatar} from "../components/media.js";

// main.js awaits the first screen at its top level: importing it statically from a
// screen would deadlock, so it is reached lazily (it has loaded by the time this runs).
function setBadge(count) {
  import("../main.js").then((main) => main.setBadge(count)).catch(() => {});
}

function target(item) {
  const first = item.actors[0];
  if (item.kind === "message" && item.thread_id) return `#/messages/${item.thread_id}`;
  if (item.post_id) return `#/p/${item.post_id}`;
  if (item.kind === "follow_request") return "#/requests";
  return first ? `#/u/${encodeURIComponent(first.username)}` : "#/notifications";
}

function row(item) {
  const first = item.actors[0];
  const who = first
    ? h("a", {class: "notif-actor", href: `#/u/${encodeURIComponent(first.username)}`, "aria-label": `${first.username}'s profile`}, avatar(first))
    : h("span", {class: "notif-actor"}, avatar(null));
  const li = h("li", {class: item.read ? "notif" : "notif unread", dataset: {id: item.id}},
    who,
    h("a", {class: "notif-link", href: target(item)},
      h("span", {class: "notif-summary"}, item.summary),
      h("time", {class: "notif-time", datetime: item.updated_at}, ago(item.updated_at))),
    item.read ? null : h("span", {class: "notif-dot"}, h("span", {class: "visually-hidden"}, "unread")));
  return li;
}

export async function render(main) {
  const list = h("ul", {class: "notif-list"});
  const status = h("p", {class: "notif-status", role: "status"});
  const sentinel = h("div", {class: "notif-end", "aria-hidden": "true"});
  main.append(h("h1", {class: "screen-title"}, "Notifications"), status, list, sentinel);
  let cursor = null;
  let loading = false;
  let gone = false;
  let newestRead = null;

  async function markRead(item) {
    if (!item || item.cursor === newestRead) return;
    newestRead = item.cursor;
    try {
      const answer = await post("/api/v1/notifications/read", {cursor: item.cursor});
      if (!gone) setBadge(answer.unread);
    } catch (error) {
      if (!gone) toast(error.message);
    }
  }

  function put(item, atTop) {
    const old = list.querySelector(`li[data-id="${CSS.escape(item.id)}"]`);
    if (old) old.remove(); // a regrouped notification keeps its id: it moves up, updated
    if (atTop) list.prepend(row(item));
    else list.append(row(item));
  }

  async function more(first) {
    if (loading || gone || (!first && !cursor)) return;
    loading = true;
    try {
      const page = await get(`/api/v1/notifications?limit=20${!first && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (gone) return;
      page.items.forEach((item) => put(item, false));
      cursor = page.next_cursor;
      if (first) {
        status.textContent = page.items.length ? "" : "No notifications yet.";
        if (page.items.length && page.unread) markRead(page.items[0]);
        else setBadge(page.unread || 0);
      }
    } catch (error) {
      if (!gone) main.append(h("p", {role: "alert"}, error.message));
    } finally {
      loading = false;
    }
  }

  const unsubscribe = on("notification", (frame) => {
    if (!frame.notification || gone) return;
    put(frame.notification, true);
    status.textContent = "1 new notification";
    markRead(frame.notification);
  });
  const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && more(false), {rootMargin: "400px"});

  await more(true);
  if (!gone) observer.observe(sentinel);
  return () => {
    gone = true;
    unsubscribe();
    observer.disconnect();
  };
}
