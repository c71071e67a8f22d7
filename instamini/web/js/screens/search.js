// #/search — people and hashtags as you type: a request 150 ms after the last key,
// the one before it aborted, results in two lists.

import {get} from "../api.js";
import {h} from "../dom.js";
import {avatar} from "../components/media.js";

const DEBOUNCE_MS = 150;

export async function render(main, params) {
  const input = h("input", {type: "search", id: "search-q", name: "q", autocomplete: "off", spellcheck: "false",
    placeholder: "Search", "aria-describedby": "search-status"});
  const status = h("p", {id: "search-status", class: "search-status", role: "status"});
  const people = h("ul", {class: "search-people"});
  const tags = h("ul", {class: "search-tags"});
  const peopleSection = h("section", {class: "search-section", "aria-labelledby": "search-people-h", hidden: true},
    h("h2", {id: "search-people-h"}, "People"), people);
  const tagSection = h("section", {class: "search-section", "aria-labelledby": "search-tags-h", hidden: true},
    h("h2", {id: "search-tags-h"}, "Hashtags"), tags);
  const form = h("form", {class: "search-form", role: "search", onsubmit: (event) => { event.preventDefault(); run(); }},
    h("label", {for: "search-q", class: "visually-hidden"}, "Search people and hashtags"), input);
  main.append(h("h1", {class: "visually-hidden"}, "Search"), form, status, peopleSection, tagSection);

  let timer = null;
  let inflight = null;
  let gone = false;

  async function run() {
    clearTimeout(timer);
    const q = input.value.trim();
    if (inflight) inflight.abort();
    inflight = null;
    history.replaceState(null, "", q ? `#/search?q=${encodeURIComponent(q)}` : "#/search");
    if (!q) {
      people.replaceChildren();
      tags.replaceChildren();
      peopleSection.hidden = tagSection.hidden = true;
      status.textContent = "";
      return;
    }
    const controller = new AbortController();
    inflight = controller;
    try {
      const found = await get(`/api/v1/search?q=${encodeURIComponent(q)}`, {signal: controller.signal});
      if (gone || controller !== inflight) return;
      inflight = null;
      people.replaceChildren(...found.users.map((user) => h("li", {},
        h("a", {class: "person", href: `#/u/${encodeURIComponent(user.username)}`},
          avatar(user),
          h("span", {class: "person-names"},
            h("span", {class: "person-username"}, user.username),
            user.display_name ? h("span", {class: "person-display"}, user.display_name) : null)))));
      tags.replaceChildren(...found.hashtags.map((tag) => h("li", {},
        h("a", {class: "hashtag", href: `#/tags/${encodeURIComponent(tag.tag)}`},
          h("span", {class: "hashtag-mark", "aria-hidden": "true"}, "#"),
          h("span", {class: "person-names"},
            h("span", {class: "person-username"}, `#${tag.tag}`),
            h("span", {class: "person-display"}, `${tag.posts} ${tag.posts === 1 ? "post" : "posts"}`))))));
      peopleSection.hidden = !found.users.length;
      tagSection.hidden = !found.hashtags.length;
      status.textContent = found.users.length || found.hashtags.length
        ? `${found.users.length} people, ${found.hashtags.length} hashtags`
        : `No results for "${q}".`;
    } catch (error) {
      if (error.name === "AbortError" || gone) return;
      status.textContent = "";
      status.append(h("span", {role: "alert"}, error.message));
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  const initialQuery = params.query.get("q");
  if (initialQuery) {
    input.value = initialQuery;
    run();
  }
  const focusing = requestAnimationFrame(() => input.focus()); // after the router focuses <main>
  return () => {
    gone = true;
    cancelAnimationFrame(focusing);
    clearTimeout(timer);
    if (inflight) inflight.abort();
  };
}
