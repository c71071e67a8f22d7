// #/settings: display name, bio, a new avatar (uploaded, processed, then set), a private
// account switch, and logging out.

import {del, get, patch} from "../api.js";
import {h, toast} from "../dom.js";
import {go} from "../router.js";
import {avatar} from "../components/media.js";
import {forgetUser, refreshShell} from "../components/session.js";
import {uploadAndWait} from "../components/uploads.js";
import {alertBox, errorMessage, screenError, showAlert, statusLine} from "../components/ui.js";

export async function render(main) {
  let me;
  try {
    me = await get("/api/v1/me");
  } catch (error) {
    if (error.status === 401) return go("/login");
    screenError(main, error, "Could not load your settings");
    return;
  }
  const controller = new AbortController();
  const alert = alertBox();
  const status = statusLine();

  const displayName = h("input", {id: "set-display-name", maxlength: "64", autocomplete: "name"});
  displayName.value = me.display_name || "";
  const bio = h("textarea", {id: "set-bio", rows: "3", maxlength: "150"});
  bio.value = me.bio || "";
  const privateBox = h("input", {id: "set-private", type: "checkbox", checked: !!me.private});
  const save = h("button", {type: "submit", class: "primary"}, "Save changes");

  // The avatar: upload, wait for the workers, then PATCH avatar_media_id.
  const avatarSlot = h("div", {class: "avatar-slot"}, avatar(me, "avatar-xl"));
  const avatarInput = h("input", {id: "set-avatar", type: "file", accept: "image/*"});
  const avatarProgress = h("progress", {max: "1", value: "0", "aria-label": "Avatar upload progress"});
  avatarProgress.hidden = true;
  const avatarStatus = statusLine();
  avatarInput.addEventListener("change", async () => {
    const file = avatarInput.files[0];
    if (!file) return;
    avatarProgress.hidden = false;
    avatarProgress.value = 0;
    avatarStatus.textContent = "Uploading…";
    avatarStatus.classList.remove("error");
    try {
      const media = await uploadAndWait(file, {
        signal: controller.signal,
        onProgress: (fraction) => (avatarProgress.value = fraction),
        onUploaded: () => {
          avatarProgress.value = 1;
          avatarStatus.textContent = "Processing…";
        },
      });
      me = await patch("/api/v1/me", {avatar_media_id: media.id});
      forgetUser();
      avatarSlot.replaceChildren(avatar(me, "avatar-xl"));
      avatarStatus.textContent = "Avatar updated";
    } catch (error) {
      if (error.name === "AbortError") return;
      avatarStatus.textContent = `Avatar not changed: ${errorMessage(error)}`;
      avatarStatus.classList.add("error");
    } finally {
      avatarProgress.hidden = true;
      avatarInput.value = "";
    }
  });

  const form = h(
    "form",
    {class: "card settings-form"},
    h("h1", {class: "section-title"}, "Edit profile"),
    h("div", {class: "row avatar-row"}, avatarSlot,
      h("div", {class: "grow"}, h("label", {for: "set-avatar"}, "New avatar"), avatarInput, avatarProgress, avatarStatus)),
    h("label", {for: "set-display-name"}, "Display name"),
    displayName,
    h("label", {for: "set-bio"}, "Bio"),
    bio,
    h("div", {class: "row check-row"}, privateBox, h("label", {for: "set-private", class: "inline"}, "Private account")),
    h("p", {class: "muted hint"}, "When your account is private, only people you approve see your posts, followers and following."),
    alert,
    status,
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(alert, "");
    save.disabled = true;
    try {
      me = await patch("/api/v1/me", {display_name: displayName.value.trim(), bio: bio.value, private: privateBox.checked});
      forgetUser();
      status.textContent = "Changes saved";
    } catch (error) {
      showAlert(alert, errorMessage(error));
    } finally {
      save.disabled = false;
    }
  });

  const logout = h("button", {type: "button", class: "danger"}, "Log out");
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      await del("/api/v1/sessions/current");
    } catch (error) {
      if (error.status !== 401) {
        toast(`Could not log out: ${errorMessage(error)}`);
        logout.disabled = false;
        return;
      }
    }
    await refreshShell();
    go("/login");
  });

  main.replaceChildren(
    form,
    h("section", {class: "card"}, h("h2", {class: "section-title"}, "Account"),
      h("p", {}, "Logged in as ", h("a", {href: "#/me"}, me.username)),
      h("p", {}, h("a", {href: "#/requests"}, "Follow requests")),
      logout),
  );
  return () => controller.abort();
}
