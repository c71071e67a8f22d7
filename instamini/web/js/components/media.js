// Showing uploads: responsive images (WebP variants in srcset, the JPEG fallback as src),
// videos with their poster, thumbnails for grids, and avatars.

import {h} from "../dom.js";

const COLOUR = /^#[0-9a-f]{3,8}$/i;

function byWidth(variants, role) {
  return variants.filter((v) => v.role === role).sort((a, b) => a.width - b.width);
}

export function placeholder(el, item) {
  if (item && item.placeholder && COLOUR.test(item.placeholder)) el.style.backgroundColor = item.placeholder;
  return el;
}

// A picture of an image item: every WebP width in srcset, the fallback JPEG as src.
export function imageOf(item, {sizes = "(max-width: 640px) 100vw, 640px", className = "media-img", lazy = true} = {}) {
  const variants = item.variants || [];
  const webp = byWidth(variants, "image");
  const fallback = byWidth(variants, "fallback").pop() || webp[webp.length - 1];
  const img = h("img", {
    class: className,
    src: fallback ? fallback.url : undefined,
    srcset: webp.length ? webp.map((v) => `${v.url} ${v.width}w`).join(", ") : undefined,
    sizes: webp.length ? sizes : undefined,
    alt: item.alt_text || "",
    width: item.width || (fallback && fallback.width) || undefined,
    height: item.height || (fallback && fallback.height) || undefined,
    loading: lazy ? "lazy" : undefined,
    decoding: "async",
  });
  return placeholder(img, item);
}

export function posterOf(item) {
  const variants = item.variants || [];
  const poster = byWidth(variants, "poster");
  return (poster.find((v) => v.content_type === "image/jpeg") || poster[0] || null);
}

export function videoOf(item, {className = "media-video"} = {}) {
  const source = byWidth(item.variants || [], "video").pop();
  const poster = posterOf(item);
  const video = h("video", {
    class: className,
    controls: true,
    muted: true,
    playsinline: true,
    preload: "metadata",
    poster: poster ? poster.url : undefined,
    src: source ? source.url : undefined,
    width: item.width || undefined,
    height: item.height || undefined,
    "aria-label": item.alt_text || "Video",
  });
  video.muted = true;
  return placeholder(video, item);
}

export function mediaOf(item, options) {
  if (item.status && item.status !== "ready") {
    return h("div", {class: "media-pending", role: "img", "aria-label": item.alt_text || "Media still processing"}, "Processing…");
  }
  return item.kind === "video" ? videoOf(item, options) : imageOf(item, options);
}

// The smallest still of an item, for grids: an image's smallest WebP, a video's thumbnail or poster.
export function thumbOf(item) {
  const variants = item.variants || [];
  const still =
    byWidth(variants, "image")[0] || byWidth(variants, "thumbnail").pop() || byWidth(variants, "poster")[0] ||
    byWidth(variants, "fallback")[0];
  return still || null;
}

// Avatars: every account and user summary carries avatar_url (its smallest still), or
// null: then the person's initial stands in.
function initial(user) {
  const name = (user && (user.display_name || user.username)) || "?";
  return name.trim().charAt(0).toUpperCase() || "?";
}

export function avatar(user, size = "") {
  const box = h("span", {class: `avatar ${size}`.trim(), "aria-hidden": "true"}, initial(user));
  if (user && user.avatar_url) box.replaceChildren(h("img", {src: user.avatar_url, alt: "", class: "avatar-img"}));
  return box;
}
