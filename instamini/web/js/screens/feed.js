// #/ the home feed: the stories tray (when that component exists), a Ranked/Chronological
// toggle, post cards with "Why this post?", and infinite scroll on a sentinel.

import {get} from "../api.js";
import {h} from "../dom.js";
import {postCard} from "../components/post_card.js";
import {errorMessage} from "../components/ui.js";

const ORDER_KEY = "instamini.feed.order";

function savedOrder() {
  try {
    return localStorage.getItem(ORDER_KEY) === "chronological" ? "chronological" : "ranked";
  } catch {
    return "ranked";
  }
}

export async function render(main, params) {
  let order = params.query.get("order") === "chronological" ? "chronological" : params.query.get("order") === "ranked" ? "ranked" : savedOrder();
  let cursor = null;
  let done = false;
  let loading = false;
  let generation = 0;
  let left = false;
  let controller = new AbortController();

  const trayBox = h("div", {class: "tray-slot"});
  const ranked = h("button", {type: "button", "aria-pressed": "false"}, "Ranked");
  const chrono = h("button", {type: "button", "aria-pressed": "false"}, "Chronological");
  const toggle = h("div", {class: "segmented", role: "group", "aria-label": "Feed order"}, ranked, chrono);
  const list = h("div", {class: "feed-list"});
  const status = h("p", {class: "muted feed-status", role: "status", "aria-live": "polite"});
  const sentinel = h("div", {class: "sentinel", "aria-hidden": "true"});
  const retry = h("button", {type: "button", class: "wide"}, "Try again");
  retry.hidden = true;
  main.replaceChildren(
    h("h1", {class: "visually-hidden"}, "Home"),
    trayBox,
    h("div", {class: "feed-head"}, toggle),
    list,
    status,
    retry,
    sentinel,
  );

  const paint = () => {
    ranked.setAttribute("aria-pressed", String(order === "ranked"));
    chrono.setAttribute("aria-pressed", String(order === "chronological"));
  };

  async function loadMore() {
    if (loading || done || left) return;
    loading = true;
    const mine = generation;
    status.textContent = "Loading…";
    retry.hidden = true;
    try {
      const query = new URLSearchParams({order, limit: "10"});
      if (cursor) query.set("cursor", cursor);
      const page = await get(`/api/v1/feed?${query}`, {signal: controller.signal});
      if (mine !== generation || left) return;
      for (const item of page.items) list.append(postCard(item, {explain: order === "ranked"}));
      cursor = page.next_cursor;
      done = !cursor;
      if (!list.children.length) {
        status.replaceChildren(
          h("span", {class: "empty-state"}, "Follow people to see their posts here"),
          " ",
          h("a", {href: "#/explore"}, "Explore"),
        );
      } else status.textContent = done ? "You're all caught up" : "";
    } catch (error) {
      if (error.name === "AbortError" || mine !== generation || left) return;
      status.textContent = `Could not load the feed: ${errorMessage(error)}`;
      retry.hidden = false;
    } finally {
      if (mine === generation) loading = false;
    }
    // The sentinel may still be on screen after a short page: keep going.
    if (!done && !left && mine === generation && sentinelVisible()) loadMore();
  }

  function sentinelVisible() {
    const box = sentinel.getBoundingClientRect();
    return box.top < window.innerHeight + 400;
  }

  function restart(next) {
    if (next === order && list.children.length) return;
    order = next;
    try {
      localStorage.setItem(ORDER_KEY, order);
    } catch {
      // private mode: the choice lasts this visit
    }
    controller.abort();
    controller = new AbortController();
    generation += 1;
    loading = false;
    cursor = null;
    done = false;
    list.replaceChildren();
    paint();
    loadMore();
  }

  ranked.addEventListener("click", () => restart("ranked"));
  chrono.addEventListener("click", () => restart("chronological"));
  retry.addEventListener("click", () => loadMore());

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, {rootMargin: "400px 0px"});
  observer.observe(sentinel);

  // The stories tray is another module; the feed works without it.
  (async () => {
    try {
      const module = await import("../components/story_tray.js");
      if (left || typeof module.storyTray !== "function") return;
      const tray = await module.storyTray();
      if (!left && tray instanceof Node) trayBox.replaceChildren(tray);
    } catch {
      // no tray
    }
  })();

  paint();
  loadMore();

  return () => {
    left = true;
    controller.abort();
    observer.disconnect();
  };
}
