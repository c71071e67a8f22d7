// #/reels — a vertical, scroll-snapping list of full-height videos. The one in view
// plays (muted until "Unmute"), the others pause; more load near the end.

import {del, get, post} from "../api.js";
import {h, toast} from "../dom.js";

function variantUrl(media, role) {
  const found = (media.variants || []).find((v) => v.role === role);
  return found ? found.url : "";
}

export async function render(main) {
  const list = h("div", {class: "reels", role: "feed", "aria-label": "Reels", "aria-busy": "true"});
  const sentinel = h("div", {class: "reels-end", "aria-hidden": "true"});
  const status = h("p", {class: "reels-status", role: "status"});
  main.append(h("h1", {class: "visually-hidden"}, "Reels"), list, status);
  let cursor = null;
  let loading = false;
  let finished = false;
  let gone = false;
  let muted = true;
  const muteButtons = new Set();

  const viewing = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const video = entry.target;
      if (entry.isIntersecting && entry.intersectionRatio >= 0.6) {
        video.muted = muted;
        video.play().catch(() => {});
      } else video.pause();
    }
  }, {root: list, threshold: [0, 0.6, 1]});

  function setMuted(value) {
    muted = value;
    for (const button of muteButtons) button.textContent = muted ? "Unmute" : "Mute";
    list.querySelectorAll("video").forEach((video) => (video.muted = muted));
  }

  function reel(item) {
    const media = item.media[0];
    let liked = item.liked;
    let likes = item.like_count;
    const count = h("span", {class: "reel-count"}, String(likes));
    const like = h("button", {type: "button", class: "reel-like", "aria-pressed": String(liked), onclick: toggleLike}, "Like");
    async function toggleLike() {
      liked = !liked;
      likes += liked ? 1 : -1;
      like.setAttribute("aria-pressed", String(liked));
      count.textContent = String(likes);
      try {
        if (liked) await post(`/api/v1/posts/${item.id}/like`);
        else await del(`/api/v1/posts/${item.id}/like`);
      } catch (error) {
        liked = !liked;
        likes += liked ? 1 : -1;
        like.setAttribute("aria-pressed", String(liked));
        count.textContent = String(likes);
        toast(error.message);
      }
    }
    const mute = h("button", {type: "button", class: "reel-mute", onclick: () => setMuted(!muted)}, muted ? "Unmute" : "Mute");
    muteButtons.add(mute);
    let visual;
    if (media && media.kind === "video") {
      visual = h("video", {class: "reel-video", src: variantUrl(media, "video"), poster: variantUrl(media, "poster") || undefined,
        loop: true, playsinline: true, preload: "metadata", "aria-label": media.alt_text || `Reel by ${item.author.username}`});
      visual.muted = muted;
      visual.addEventListener("click", () => (visual.paused ? visual.play().catch(() => {}) : visual.pause()));
      viewing.observe(visual);
    } else if (media) {
      visual = h("img", {class: "reel-video", src: variantUrl(media, "fallback") || variantUrl(media, "image") || variantUrl(media, "poster"),
        alt: media.alt_text || `Reel by ${item.author.username}`});
    } else visual = h("div", {class: "reel-video"});
    return h("article", {class: "reel", "aria-label": `Reel by ${item.author.username}`},
      visual,
      h("div", {class: "reel-info"},
        h("a", {class: "reel-author", href: `#/u/${encodeURIComponent(item.author.username)}`}, item.author.username),
        item.caption ? h("p", {class: "reel-caption"}, item.caption) : null),
      h("div", {class: "reel-actions"},
        like, count,
        h("a", {class: "reel-comments", href: `#/p/${item.id}`}, `Comments ${item.comment_count}`),
        mute));
  }

  async function more() {
    if (loading || finished || gone) return;
    loading = true;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await get(`/api/v1/reels?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (gone) return;
      for (const item of page.items) sentinel.before(reel(item));
      cursor = page.next_cursor;
      finished = !cursor;
      if (!list.querySelector(".reel")) status.textContent = "No reels yet.";
      else if (finished) status.textContent = "You are all caught up.";
    } catch (error) {
      status.textContent = "";
      finished = true;
      main.append(h("p", {role: "alert"}, error.message));
    } finally {
      loading = false;
      list.setAttribute("aria-busy", "false");
    }
  }

  const nearEnd = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && more(), {root: list, rootMargin: "0px 0px 200% 0px"});
  list.append(sentinel);
  await more();
  nearEnd.observe(sentinel);
  return () => {
    gone = true;
    viewing.disconnect();
    nearEnd.disconnect();
    list.querySelectorAll("video").forEach((video) => video.pause());
  };
}
