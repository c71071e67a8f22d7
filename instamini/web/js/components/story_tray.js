// The stories tray at the top of the home feed: one round button per person with live
// stories (a coloured ring while some are unseen), opening the full-screen viewer.

import {get} from "../api.js";
import {h} from "../dom.js";
import {avatar} from "./media.js";

// Where the viewer returns when it closes (the page the tray was on).
export const RETURN_KEY = "instamini.stories.return";

export async function storyTray() {
  const list = h("ul", {class: "story-tray"});
  const section = h("section", {class: "story-tray-wrap", "aria-label": "Stories"}, list);
  let items = [];
  try {
    ({items} = await get("/api/v1/stories"));
  } catch {
    items = []; // the feed works without its tray
  }
  for (const entry of items) {
    const name = entry.user.username;
    const button = h(
      "button",
      {
        type: "button",
        class: entry.has_unseen ? "story-bubble unseen" : "story-bubble",
        "aria-label": `${name}'s story`,
        onclick: () => {
          sessionStorage.setItem(RETURN_KEY, location.hash || "#/");
          location.hash = `#/stories/${encodeURIComponent(name)}`;
        },
      },
      h("span", {class: "story-ring", "aria-hidden": "true"}, avatar(entry.user, "avatar-lg")),
      h("span", {class: "story-name", "aria-hidden": "true"}, name),
    );
    list.append(h("li", {}, button));
  }
  section.hidden = !items.length;
  return section;
}
