// #/tags/:tag — posts with a hashtag: "Top" (the best among the newest) or "Recent".

import {h} from "../dom.js";
import {pagedGrid} from "./explore.js";

export async function render(main, params) {
  const tag = params.tag.replace(/^#/, "");
  let order = params.query.get("order") === "top" ? "top" : "recent";
  const top = h("button", {type: "button", class: "tab", onclick: () => choose("top")}, "Top");
  const recent = h("button", {type: "button", class: "tab", onclick: () => choose("recent")}, "Recent");
  const area = h("section", {class: "tag-posts", "aria-label": `Posts tagged #${tag}`});
  main.append(
    h("header", {class: "tag-header"}, h("h1", {class: "screen-title"}, `#${tag}`),
      h("div", {class: "tabs", role: "group", "aria-label": "Order"}, top, recent)),
    area,
  );
  let grid = null;

  async function choose(which) {
    order = which;
    top.setAttribute("aria-pressed", String(order === "top"));
    recent.setAttribute("aria-pressed", String(order === "recent"));
    if (grid) grid.stop();
    area.replaceChildren();
    grid = pagedGrid(area, `/api/v1/tags/${encodeURIComponent(tag)}/posts?order=${order}`, `No posts with #${tag} yet.`);
    await grid.start();
  }

  await choose(order);
  return () => grid && grid.stop();
}
