// #/stories/:username — the full-screen stories viewer.
//
// One progress segment per story (5 s for a photo, the video's own length), then the
// next story, then the next person in the tray with unseen stories. The right half (or
// "Next story", ArrowRight) skips on, the left half (or "Previous story", ArrowLeft)
// goes back, "Close" or Escape leaves. Each story shown is marked seen; on your own
// stories "Viewers" lists who watched.

import {get, post} from "../api.js";
import {h, ago, toast} from "../dom.js";
import {RETURN_KEY} from "../components/story_tray.js";
import {avatar} from "../components/media.js";
import {currentUser} from "../components/session.js";

const PHOTO_MS = 5000;

function imageUrl(media) {
  const variants = media.variants || [];
  const images = variants.filter((v) => v.role === "image").sort((a, b) => a.width - b.width);
  const chosen = images.find((v) => v.width >= 720) || images[images.length - 1]
    || variants.find((v) => v.role === "fallback") || variants.find((v) => v.role === "poster");
  return chosen ? chosen.url : "";
}

function variantUrl(media, role) {
  const found = (media.variants || []).find((v) => v.role === role);
  return found ? found.url : "";
}

export async function render(main, params) {
  const username = params.username;
  const returnTo = sessionStorage.getItem(RETURN_KEY) || "#/";
  const progress = h("div", {class: "story-progress", "aria-hidden": "true"});
  const stage = h("div", {class: "story-stage"});
  const counter = h("p", {class: "visually-hidden", "aria-live": "polite"});
  const header = h("div", {class: "story-header"},
    h("a", {class: "story-author", href: `#/u/${encodeURIComponent(username)}`},
      avatar({username}), h("span", {}, username)),
    h("span", {class: "story-time"}));
  const closeButton = h("button", {type: "button", class: "story-close", onclick: () => close()}, "Close");
  const prevButton = h("button", {type: "button", class: "story-nav story-prev", onclick: () => previous()},
    h("span", {class: "visually-hidden"}, "Previous story"));
  const nextButton = h("button", {type: "button", class: "story-nav story-next", onclick: () => next()},
    h("span", {class: "visually-hidden"}, "Next story"));
  const tools = h("div", {class: "story-tools"});
  const panel = h("div", {class: "story-viewers", hidden: true});
  const dialog = h("div", {class: "story-viewer", role: "dialog", "aria-modal": "true", "aria-label": `Story by ${username}`},
    progress, header, stage, prevButton, nextButton, tools, closeButton, panel, counter);
  main.append(dialog);
  document.body.classList.add("no-scroll");
  // A modal dialog: what is behind it cannot be reached while it is open.
  const behind = [...document.body.children].filter((el) => !el.contains(main) && el.id !== "toast" && !el.inert);
  behind.forEach((el) => (el.inert = true));

  let tray = [];
  let entry = null;
  let me = null;
  let index = 0;
  let timer = null; // the animation frame of the running photo
  let started = 0;
  let elapsedBefore = 0; // ms shown before a pause
  let duration = PHOTO_MS;
  let paused = false;
  let video = null;
  let gone = false;

  function close() {
    if (gone) return;
    location.hash = returnTo;
  }

  function stopClock() {
    if (timer) cancelAnimationFrame(timer);
    timer = null;
  }

  function fill(i, fraction) {
    const bar = progress.children[i];
    if (bar) bar.firstChild.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  }

  function tick() {
    if (gone || paused) return;
    const elapsed = elapsedBefore + (performance.now() - started);
    const fraction = video && video.duration ? video.currentTime / video.duration : elapsed / duration;
    fill(index, fraction);
    if (!video && elapsed >= duration) return next();
    timer = requestAnimationFrame(tick);
  }

  function pause() {
    if (paused) return;
    paused = true;
    elapsedBefore += performance.now() - started;
    stopClock();
    if (video) video.pause();
  }

  function resume() {
    if (!paused || gone) return;
    paused = false;
    started = performance.now();
    if (video) video.play().catch(() => {});
    timer = requestAnimationFrame(tick);
  }

  function show(i) {
    stopClock();
    index = i;
    paused = false;
    elapsedBefore = 0;
    panel.hidden = true;
    const story = entry.stories[index];
    entry.stories.forEach((_, k) => fill(k, k < index ? 1 : 0));
    header.lastChild.textContent = ago(story.created_at);
    counter.textContent = `Story ${index + 1} of ${entry.stories.length}`;
    const media = story.media;
    const alt = media.alt_text || `Story by ${username}`;
    if (media.kind === "video") {
      video = h("video", {class: "story-media", src: variantUrl(media, "video"), poster: variantUrl(media, "poster") || undefined,
        playsinline: true, "aria-label": alt});
      video.muted = true;
      video.autoplay = true;
      video.addEventListener("ended", () => next());
      video.addEventListener("error", () => setTimeout(() => !gone && entry.stories[index] === story && next(), PHOTO_MS));
      duration = media.duration_ms || PHOTO_MS;
      stage.replaceChildren(video);
      video.play().catch(() => {}); // autoplay may wait for a gesture: the bar follows currentTime
    } else {
      video = null;
      duration = PHOTO_MS;
      stage.replaceChildren(h("img", {class: "story-media", src: imageUrl(media), alt}));
    }
    started = performance.now();
    timer = requestAnimationFrame(tick);
    if (!story.seen && !(me && me.username === username)) {
      story.seen = true;
      post(`/api/v1/stories/${story.id}/seen`).catch((error) => toast(error.message));
    }
  }

  function nextPerson() {
    const at = tray.indexOf(entry);
    const after = tray.slice(at + 1).concat(tray.slice(0, Math.max(0, at)));
    return after.find((other) => other.has_unseen && other.stories.some((s) => !s.seen));
  }

  function next() {
    if (gone) return;
    if (index + 1 < entry.stories.length) return show(index + 1);
    entry.has_unseen = false;
    const following = nextPerson();
    if (following) location.replace(`#/stories/${encodeURIComponent(following.user.username)}`);
    else close();
  }

  function previous() {
    if (gone) return;
    if (index > 0) return show(index - 1);
    const at = tray.indexOf(entry);
    if (at > 0) location.replace(`#/stories/${encodeURIComponent(tray[at - 1].user.username)}`);
    else show(0);
  }

  async function showViewers(story) {
    pause();
    panel.hidden = false;
    const list = h("ul", {class: "viewer-list"});
    const done = h("button", {type: "button", onclick: () => { panel.hidden = true; resume(); }}, "Done");
    panel.replaceChildren(h("h2", {}, "Viewers"), list, done);
    done.focus();
    try {
      const {items} = await get(`/api/v1/stories/${story.id}/viewers`);
      if (!items.length) list.append(h("li", {}, "No one yet."));
      for (const viewer of items) {
        list.append(h("li", {},
          h("a", {href: `#/u/${encodeURIComponent(viewer.user.username)}`},
            avatar(viewer.user), viewer.user.username),
          h("span", {class: "muted"}, ` ${ago(viewer.seen_at)}`)));
      }
    } catch (error) {
      list.append(h("li", {role: "alert"}, error.message));
    }
  }

  function onKey(event) {
    if (event.key === "Escape") {
      if (!panel.hidden) { panel.hidden = true; resume(); } else close();
    } else if (event.key === "ArrowRight") next();
    else if (event.key === "ArrowLeft") previous();
  }
  document.addEventListener("keydown", onKey);

  const cleanup = () => {
    gone = true;
    stopClock();
    if (video) video.pause();
    document.removeEventListener("keydown", onKey);
    document.body.classList.remove("no-scroll");
    behind.forEach((el) => (el.inert = false));
  };

  try {
    const [trayAnswer, meAnswer] = await Promise.all([get("/api/v1/stories"), currentUser()]);
    tray = trayAnswer.items;
    me = meAnswer;
  } catch (error) {
    stage.replaceChildren(h("p", {role: "alert", class: "story-empty"}, error.message));
    closeButton.focus();
    return cleanup;
  }
  if (gone) return cleanup;
  entry = tray.find((item) => item.user.username === username);
  if (!entry || !entry.stories.length) {
    stage.replaceChildren(h("p", {class: "story-empty"}, `${username} has no stories right now.`));
    prevButton.hidden = nextButton.hidden = true;
    closeButton.focus();
    return cleanup;
  }
  for (let k = 0; k < entry.stories.length; k += 1) {
    progress.append(h("span", {class: "story-segment"}, h("span", {class: "story-fill"})));
  }
  if (me && me.username === username) {
    tools.append(h("button", {type: "button", class: "story-viewers-button", onclick: () => showViewers(entry.stories[index])}, "Viewers"));
  }
  const firstUnseen = entry.stories.findIndex((story) => !story.seen);
  show(firstUnseen >= 0 ? firstUnseen : 0);
  closeButton.focus();
  return cleanup;
}
