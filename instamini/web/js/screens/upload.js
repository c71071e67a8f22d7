// #/new: choose photos or a video, see previews, write alt texts and a caption, and share
// as a post or a reel; or add the first item to your story. Files upload as soon as they
// are chosen (with a progress bar each), then the screen waits for processing.

import {post as postJson} from "../api.js";
import {h, toast} from "../dom.js";
import {go} from "../router.js";
import {uploadAndWait} from "../components/uploads.js";
import {alertBox, errorMessage, showAlert, statusLine} from "../components/ui.js";

const MAX_ITEMS = 10;

export async function render(main) {
  let items = []; // {file, url, alt, progress, state, done: Promise<media>, media, error}
  let controller = new AbortController();
  const alert = alertBox();
  const status = statusLine("status-line");

  const fileInput = h("input", {id: "upload-files", type: "file", accept: "image/*,video/*", multiple: true});
  const previews = h("ol", {class: "upload-previews", "aria-label": "Chosen items"});
  const caption = h("textarea", {id: "upload-caption", rows: "3", maxlength: "2200"});
  const kindPost = h("input", {type: "radio", name: "kind", value: "post", id: "kind-post", checked: true});
  const kindReel = h("input", {type: "radio", name: "kind", value: "reel", id: "kind-reel", disabled: true});
  const share = h("button", {type: "submit", class: "primary"}, "Share");
  const story = h("button", {type: "button"}, "Add to your story");

  function revokeAll() {
    for (const item of items) URL.revokeObjectURL(item.url);
  }

  function updateKind() {
    const oneVideo = items.length === 1 && items[0].file.type.startsWith("video/");
    kindReel.disabled = !oneVideo;
    if (!oneVideo && kindReel.checked) kindPost.checked = true;
  }

  function choose() {
    controller.abort();
    controller = new AbortController();
    revokeAll();
    previews.replaceChildren();
    showAlert(alert, "");
    let files = [...fileInput.files];
    if (files.length > MAX_ITEMS) {
      showAlert(alert, `At most ${MAX_ITEMS} items: the first ${MAX_ITEMS} are used`);
      files = files.slice(0, MAX_ITEMS);
    }
    const signal = controller.signal;
    items = files.map((file, i) => {
      const n = i + 1;
      const url = URL.createObjectURL(file);
      const isVideo = file.type.startsWith("video/");
      const preview = isVideo
        ? h("video", {src: url, muted: true, playsinline: true, controls: true, class: "preview-media", "aria-label": `Preview of item ${n}`})
        : h("img", {src: url, alt: `Preview of item ${n}`, class: "preview-media"});
      if (isVideo) preview.muted = true;
      const alt = h("input", {id: `alt-${n}`, maxlength: "1000"});
      const progress = h("progress", {max: "1", value: "0", "aria-label": `Upload progress for item ${n}`});
      const state = h("p", {class: "item-state muted", role: "status"}, "Uploading…");
      previews.append(h("li", {class: "upload-item"}, preview,
        h("div", {class: "upload-fields"}, h("label", {for: `alt-${n}`}, `Alt text for item ${n}`), alt, progress, state)));
      const item = {file, url, alt, progress, state, media: null, error: null};
      item.done = uploadAndWait(file, {
        signal,
        onProgress: (fraction) => (progress.value = fraction),
        onUploaded: () => {
          progress.value = 1;
          state.textContent = "Processing…";
        },
      }).then(
        (media) => {
          item.media = media;
          state.textContent = "Ready";
          return media;
        },
        (error) => {
          item.error = error;
          if (error.name !== "AbortError") {
            state.textContent = `Failed: ${errorMessage(error)}`;
            state.classList.add("error");
          }
          return null;
        },
      );
      return item;
    });
    updateKind();
  }
  fileInput.addEventListener("change", choose);

  async function readyMedia() {
    if (!items.length) throw new Error("Choose at least one photo or video first");
    const media = await Promise.all(items.map((item) => item.done));
    const failed = items.findIndex((item) => !item.media);
    if (failed >= 0) throw new Error(`Item ${failed + 1} could not be used: ${errorMessage(items[failed].error)}`);
    return media;
  }

  const form = h(
    "form",
    {class: "card upload-form"},
    h("h1", {class: "section-title"}, "New post"),
    h("label", {for: "upload-files"}, "Photos or video"),
    fileInput,
    previews,
    h("label", {for: "upload-caption"}, "Caption"),
    caption,
    h("fieldset", {class: "kind-choice"}, h("legend", {}, "Share as"),
      h("div", {class: "row"}, kindPost, h("label", {for: "kind-post", class: "inline"}, "Post"),
        kindReel, h("label", {for: "kind-reel", class: "inline"}, "Reel")),
      h("p", {class: "muted hint"}, "A reel is one video.")),
    alert,
    status,
    h("div", {class: "row"}, share, story),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(alert, "");
    share.disabled = true;
    story.disabled = true;
    try {
      status.textContent = "Waiting for processing…";
      const media = await readyMedia();
      status.textContent = "Sharing…";
      const altTexts = {};
      items.forEach((item, i) => {
        if (item.alt.value.trim()) altTexts[media[i].id] = item.alt.value.trim();
      });
      const created = await postJson("/api/v1/posts", {
        caption: caption.value,
        media_ids: media.map((m) => m.id),
        kind: kindReel.checked ? "reel" : "post",
        alt_texts: altTexts,
      });
      status.textContent = "Shared";
      go(`/p/${created.id}`);
    } catch (error) {
      status.textContent = "";
      showAlert(alert, errorMessage(error));
    } finally {
      share.disabled = false;
      story.disabled = false;
    }
  });

  story.addEventListener("click", async () => {
    showAlert(alert, "");
    share.disabled = true;
    story.disabled = true;
    try {
      if (!items.length) throw new Error("Choose a photo or video first");
      status.textContent = "Waiting for processing…";
      const first = await items[0].done;
      if (!first) throw new Error(`Item 1 could not be used: ${errorMessage(items[0].error)}`);
      await postJson("/api/v1/stories", {media_id: first.id});
      status.textContent = "Added to your story";
      toast("Added to your story");
    } catch (error) {
      status.textContent = "";
      showAlert(alert, errorMessage(error));
    } finally {
      share.disabled = false;
      story.disabled = false;
    }
  });

  main.replaceChildren(form);
  return () => {
    controller.abort();
    revokeAll();
  };
}
