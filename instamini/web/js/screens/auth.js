// #/signup and #/login: one form, two modes (by the hash). On success the server has set
// the session cookie pair; the shell refreshes (navigation, socket, badge) and the feed opens.

import {post} from "../api.js";
import {h} from "../dom.js";
import {go} from "../router.js";
import {refreshShell} from "../components/session.js";
import {alertBox, errorMessage, showAlert} from "../components/ui.js";

export async function render(main) {
  const signup = location.hash.startsWith("#/signup");
  const alert = alertBox();
  const username = h("input", {id: "auth-username", name: "username", autocomplete: "username", required: true,
    maxlength: "30", autocapitalize: "none", spellcheck: "false"});
  const displayName = signup ? h("input", {id: "auth-display-name", name: "display_name", autocomplete: "name", maxlength: "64"}) : null;
  const password = h("input", {id: "auth-password", name: "password", type: "password", required: true,
    minlength: signup ? "8" : undefined, autocomplete: signup ? "new-password" : "current-password"});
  const submit = h("button", {type: "submit", class: "primary wide"}, signup ? "Sign up" : "Log in");
  const form = h(
    "form",
    {class: "card auth-form", novalidate: true},
    h("h1", {class: "auth-title"}, "instamini"),
    h("p", {class: "muted"}, signup ? "Sign up to see photos and videos from your friends." : "Log in to see what your friends share."),
    h("label", {for: "auth-username"}, "Username"),
    username,
    displayName && h("label", {for: "auth-display-name"}, "Display name"),
    displayName,
    h("label", {for: "auth-password"}, "Password"),
    password,
    signup ? h("p", {class: "muted hint"}, "At least 8 characters.") : null,
    alert,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(alert, "");
    const name = username.value.trim();
    if (!name || !password.value) {
      showAlert(alert, "Enter a username and a password");
      return;
    }
    if (signup && password.value.length < 8) {
      showAlert(alert, "The password needs at least 8 characters");
      return;
    }
    submit.disabled = true;
    try {
      const body = {username: name, password: password.value};
      if (signup && displayName.value.trim()) body.display_name = displayName.value.trim();
      await post(signup ? "/api/v1/accounts" : "/api/v1/sessions", body);
      await refreshShell();
      go("/");
    } catch (error) {
      showAlert(alert, error.status === 401 ? "Wrong username or password" : errorMessage(error));
      submit.disabled = false;
    }
  });
  const other = signup
    ? h("p", {class: "card auth-switch"}, "Have an account? ", h("a", {href: "#/login"}, "Log in"))
    : h("p", {class: "card auth-switch"}, "New here? ", h("a", {href: "#/signup"}, "Sign up"));
  main.replaceChildren(h("section", {class: "auth"}, form, other));
  username.focus();
}
