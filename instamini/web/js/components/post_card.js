// A post in a feed or on its page, and the square grid of a profile, Explore or a hashtag.
//
// postCard(post, options) -> <article aria-label="Post by NAME">: the author, a carousel
// (scroll-snap, with previous/next buttons and "1 of 3"), the caption with hashtag and
// mention links, Like and Save toggles, the comment link and the time. options.explain
// adds "Why this post?" (the home feed's ranker explanation). postGrid(posts) -> a list
// of thumbnail links to "#/p/ID". Other screens import both: keep them stable.

import {del, get, post as postJson} from "../api.js";
import {ago, h} from "../dom.js";
import {avatar, mediaOf, placeholder, thumbOf} from "./media.js";
import {richText} from "./rich_text.js";
import {action, count} from "./ui.js";

export function userLink(user, {size = "", withName = true} = {}) {
  return h(
    "a",
    // Without the name beside it the avatar is the whole link: the name is said instead.
    {href: `#/u/${encodeURIComponent(user.username)}`, class: "user-link", "aria-label": withName ? undefined : user.username},
    avatar(user, size),
    withName ? h("span", {class: "username"}, user.username) : null,
  );
}

function carousel(items) {
  const slides = items.map((item, i) =>
    h("li", {class: "slide", "aria-label": items.length > 1 ? `${i + 1} of ${items.length}` : undefined}, mediaOf(item, {lazy: i > 0})),
  );
  const track = h("ul", {class: "carousel-track", tabindex: items.length > 1 ? "0" : undefined,
    "aria-label": items.length > 1 ? "Photos" : undefined}, slides);
  const box = h("div", {class: "carousel"}, track);
  if (items.length < 2) return box;

  let index = 0;
  const counter = h("span", {class: "carousel-count", "aria-live": "polite"}, `1 of ${items.length}`);
  const dots = h("span", {class: "carousel-dots", "aria-hidden": "true"}, items.map(() => h("span", {class: "dot"})));
  const show = (i) => {
    index = Math.max(0, Math.min(items.length - 1, i));
    counter.textContent = `${index + 1} of ${items.length}`;
    previous.disabled = index === 0;
    next.disabled = index === items.length - 1;
    [...dots.children].forEach((dot, n) => dot.classList.toggle("on", n === index));
    slides.forEach((slide, n) => {
      const video = slide.querySelector("video");
      if (video && n !== index && !video.paused) video.pause();
    });
  };
  const scrollTo = (i) => {
    const target = Math.max(0, Math.min(items.length - 1, i));
    track.scrollTo({left: target * track.clientWidth, behavior: "smooth"});
    show(target);
  };
  const previous = h("button", {type: "button", class: "carousel-button prev", "aria-label": "Previous photo", onclick: () => scrollTo(index - 1)}, "‹");
  const next = h("button", {type: "button", class: "carousel-button next", "aria-label": "Next photo", onclick: () => scrollTo(index + 1)}, "›");
  let settle = null;
  track.addEventListener("scroll", () => {
    clearTimeout(settle);
    settle = setTimeout(() => {
      if (track.clientWidth) show(Math.round(track.scrollLeft / track.clientWidth));
    }, 80);
  });
  track.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { event.preventDefault(); scrollTo(index + 1); }
    if (event.key === "ArrowLeft") { event.preventDefault(); scrollTo(index - 1); }
  });
  box.append(previous, next, h("div", {class: "carousel-status"}, dots, counter));
  show(0);
  return box;
}

function explainPanel(postId) {
  const panel = h("div", {class: "explain", id: `explain-${postId}`});
  panel.hidden = true;
  let loaded = false;
  const button = h("button", {type: "button", class: "link-button", "aria-expanded": "false", "aria-controls": panel.id});
  button.textContent = "Why this post?";
  const format = (value) => (typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(3)) : String(value));
  button.addEventListener(
    "click",
    action(async () => {
      const open = panel.hidden;
      panel.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (!open || loaded) return;
      panel.replaceChildren(h("p", {role: "status", class: "muted"}, "Loading…"));
      let why;
      try {
        why = await get(`/api/v1/feed/explain/${encodeURIComponent(postId)}`);
      } catch (error) {
        panel.replaceChildren(h("p", {role: "alert", class: "error"}, error.message || "No explanation"));
        return;
      }
      loaded = true;
      const contributions = why.contributions || {};
      const features = why.features || {};
      const names = [...new Set([...Object.keys(contributions), ...Object.keys(features)])];
      const rows = names.map((name) =>
        h("li", {}, h("span", {class: "feature"}, name.replace(/_/g, " ")), ": ",
          name in features ? format(features[name]) : "—",
          name in contributions ? h("span", {class: "muted"}, ` (contribution ${format(contributions[name])})`) : null),
      );
      panel.replaceChildren(
        h("p", {role: "status", class: "muted"},
          `Ranker: ${why.ranker || "?"}`,
          typeof why.score === "number" ? `, score ${format(why.score)}` : "",
          why.position !== null && why.position !== undefined ? `, position ${why.position + 1}` : ""),
        rows.length ? h("ul", {class: "explain-list", "aria-label": "Features and contributions"}, rows) : h("p", {class: "muted"}, "No features"),
      );
    }),
  );
  return {button, panel};
}

export function postCard(post, {explain = false, linkTime = true, commentsLink = true} = {}) {
  const author = post.author || {username: "unknown"};
  const likeCount = h("span", {class: "like-count"}, count(post.like_count || 0, "like", "likes"));
  const like = h("button", {type: "button", class: "icon-button like", "aria-pressed": String(!!post.liked)}, "Like");
  like.addEventListener(
    "click",
    action(async () => {
      const wanted = like.getAttribute("aria-pressed") !== "true";
      like.disabled = true;
      try {
        const state = wanted
          ? await postJson(`/api/v1/posts/${encodeURIComponent(post.id)}/like`)
          : await del(`/api/v1/posts/${encodeURIComponent(post.id)}/like`);
        post.liked = state ? state.liked : wanted;
        if (state && typeof state.like_count === "number") post.like_count = state.like_count;
        like.setAttribute("aria-pressed", String(post.liked));
        likeCount.textContent = count(post.like_count || 0, "like", "likes");
      } finally {
        like.disabled = false;
      }
    }),
  );
  const save = h("button", {type: "button", class: "icon-button save", "aria-pressed": String(!!post.saved)}, "Save");
  save.addEventListener(
    "click",
    action(async () => {
      const wanted = save.getAttribute("aria-pressed") !== "true";
      save.disabled = true;
      try {
        const state = wanted
          ? await postJson(`/api/v1/posts/${encodeURIComponent(post.id)}/save`)
          : await del(`/api/v1/posts/${encodeURIComponent(post.id)}/save`);
        post.saved = state ? state.saved : wanted;
        save.setAttribute("aria-pressed", String(post.saved));
      } finally {
        save.disabled = false;
      }
    }),
  );
  const time = h("time", {datetime: post.created_at, title: new Date(post.created_at).toLocaleString()}, ago(post.created_at));
  const why = explain ? explainPanel(post.id) : null;
  const caption = h("p", {class: "caption"});
  if (post.caption) caption.append(h("a", {href: `#/u/${encodeURIComponent(author.username)}`, class: "username"}, author.username), " ", ...richText(post.caption));
  caption.hidden = !post.caption;
  const comments = post.comment_count || 0;
  const article = h(
    "article",
    {class: "post-card", "aria-label": `Post by ${author.username}`, dataset: {postId: post.id}},
    h("header", {class: "post-head"}, userLink(author), post.kind === "reel" ? h("span", {class: "muted kind"}, "Reel") : null),
    carousel(post.media || []),
    h("div", {class: "post-actions"}, like, save, why && why.button),
    h("p", {class: "post-likes"}, likeCount),
    caption,
    why && why.panel,
    h("p", {class: "post-meta"},
      commentsLink ? h("a", {href: `#/p/${encodeURIComponent(post.id)}`, class: "comments-link"}, "View comments") : null,
      h("span", {class: "muted comment-count"}, `${commentsLink ? " · " : ""}${count(comments, "comment", "comments")} · `),
      linkTime ? h("a", {href: `#/p/${encodeURIComponent(post.id)}`, class: "time-link", "aria-label": `Posted ${ago(post.created_at)}`}, time) : time,
      post.edited_at ? h("span", {class: "muted"}, " · edited") : null),
  );
  article.setCaption = (text) => {
    post.caption = text;
    caption.replaceChildren();
    if (text) caption.append(h("a", {href: `#/u/${encodeURIComponent(author.username)}`, class: "username"}, author.username), " ", ...richText(text));
    caption.hidden = !text;
  };
  article.setCommentCount = (n) => {
    post.comment_count = n;
    article.querySelector(".comment-count").textContent = `${commentsLink ? " · " : ""}${count(n, "comment", "comments")} · `;
  };
  return article;
}

// One grid cell: a square thumbnail link to the post.
export function gridItem(post) {
  const first = (post.media || [])[0] || {};
  const still = thumbOf(first);
  const alt = first.alt_text || (post.caption ? post.caption.slice(0, 100) : `Post by ${post.author ? post.author.username : "someone"}`);
  const picture = still
    ? h("img", {src: still.url, alt, loading: "lazy", decoding: "async", width: still.width, height: still.height})
    : h("span", {class: "grid-missing", role: "img", "aria-label": alt}, "…");
  placeholder(picture, first);
  const marks = [];
  if ((post.media || []).length > 1) marks.push(h("span", {class: "grid-mark", "aria-hidden": "true"}, "❐"));
  if (first.kind === "video") marks.push(h("span", {class: "grid-mark", "aria-hidden": "true"}, "▶"));
  return h("li", {class: "grid-item"}, h("a", {href: `#/p/${encodeURIComponent(post.id)}`, class: "grid-link"}, picture, marks));
}

export function postGrid(posts, {label = "Posts"} = {}) {
  const list = h("ul", {class: "post-grid", "aria-label": label}, (posts || []).map(gridItem));
  list.addPosts = (more) => list.append(...more.map(gridItem));
  return list;
}
