// Uploading one file and waiting for the workers: progress while the bytes go up, then
// GET /api/v1/media/{id} until the status is ready or failed.

import {get, upload} from "../api.js";

export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, {once: true});
  });
}

// -> the media record once ready; throws an Error with the failure reason otherwise.
export async function uploadAndWait(file, {altText = "", onProgress, onUploaded, signal} = {}) {
  let media = await upload(file, altText, onProgress);
  if (onUploaded) onUploaded(media);
  let delay = 400;
  while (media.status === "processing") {
    await sleep(delay, signal);
    if (signal && signal.aborted) throw Object.assign(new Error("left the page"), {name: "AbortError"});
    media = await get(`/api/v1/media/${encodeURIComponent(media.id)}`);
    delay = Math.min(delay * 1.5, 2000);
  }
  if (media.status !== "ready") throw Object.assign(new Error(media.reason || "processing failed"), {media});
  return media;
}
