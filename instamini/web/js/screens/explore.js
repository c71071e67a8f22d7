// #/explore — recommended posts from people you do not follow, as a grid, loading more
// as the end comes into view.

import {get} from "../api.js";
import {h} from "../dom.js";
import {postGrid} from "../components/post_card.js";

// A paged grid: the first page makes the grid, later pages move their tiles into it.
export function pagedGrid(main, path, emptyText) {
  const holder = h("div", {class: "grid-holder", "aria-busy": "true"});
  const sentinel = h("div", {class: "grid-end", "aria-hidden": "true"});
  const status = h("p", {class: "grid-status", role: "status"});
  main.append(holder, sentinel, status);
  let grid = null;
  let cursor = null;
  let loading = false;
  let finished = false;
  let gone = false;
  const join = path.includes("?") ? "&" : "?";

  async function more() {
    if (loading || finished || gone) return;
    loading = true;
    holder.setAttribute("aria-busy", "true");
    try {
      const page = await get(`${path}${join}limit=24${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (gone) return;
      if (page.items.length) {
        const tiles = postGrid(page.items);
        if (!grid) holder.append((grid = tiles));
        else grid.append(...tiles.children);
      }
      cursor = page.next_cursor;
      finished = !cursor;
      if (!grid) status.textContent = emptyText;
    } catch (error) {
      finished = true;
      if (!gone) main.append(h("p", {role: "alert"}, error.message));
    } finally {
      loading = false;
      holder.setAttribute("aria-busy", "false");
    }
  }

  const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && more(), {rootMargin: "800px"});
  return {
    start: async () => {
      await more();
      if (!gone) observer.observe(sentinel);
    },
    stop: () => {
      gone = true;
      observer.disconnect();
    },
  };
}

export async function render(main) {
  main.append(h("h1", {class: "screen-title"}, "Explore"));
  const grid = pagedGrid(main, "/api/v1/explore", "Nothing to explore yet: follow people or come back later.");
  await grid.start();
  return grid.stop;
}
