// A paged list of people (followers, following, follow requests): avatar and name links,
// with optional buttons per row.

import {get} from "../api.js";
import {h} from "../dom.js";
import {userLink} from "./post_card.js";
import {action} from "./ui.js";

export function userRow(user, ...extra) {
  return h("li", {class: "user-row"}, userLink(user, {withName: false}),
    h("div", {class: "user-names"},
      h("a", {href: `#/u/${encodeURIComponent(user.username)}`, class: "username"}, user.username),
      user.display_name ? h("span", {class: "muted"}, user.display_name) : null),
    extra.length ? h("div", {class: "row user-actions"}, extra) : null);
}

// A list filled from a paged endpoint; `row(user)` builds each item. Returns the section.
export function pagedUsers(path, {label, empty = "Nobody yet.", row = (user) => userRow(user)} = {}) {
  const list = h("ul", {class: "user-list", "aria-label": label});
  const more = h("button", {type: "button", class: "link-button"}, "Load more");
  const note = h("p", {class: "muted"});
  more.hidden = true;
  note.hidden = true;
  let cursor = null;
  const load = async () => {
    const query = new URLSearchParams({limit: "30"});
    if (cursor) query.set("cursor", cursor);
    const page = await get(`${path}${path.includes("?") ? "&" : "?"}${query}`);
    for (const user of page.items) list.append(row(user));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    note.textContent = empty;
    note.hidden = list.children.length > 0;
  };
  more.addEventListener("click", action(load));
  const section = h("div", {class: "paged-users"}, list, note, more);
  section.load = load;
  section.list = list;
  section.note = note;
  return section;
}
