// Small pieces shared by the screens of posts and profiles: alerts, status lines,
// error reporting that never leaves a promise rejection unhandled.

import {h, toast} from "../dom.js";

export function alertBox() {
  const box = h("p", {role: "alert", class: "error form-alert"});
  box.hidden = true;
  return box;
}

export function showAlert(box, message) {
  box.textContent = message || "";
  box.hidden = !message;
}

export function statusLine(className = "muted status-line") {
  return h("p", {role: "status", "aria-live": "polite", class: className});
}

export function errorMessage(error) {
  if (!error) return "Something went wrong";
  if (error.status === 401) return "Please log in again";
  return error.message || "Something went wrong";
}

// Run an action from a click or submit; show its error as a toast (or in `box`).
export function action(fn, box) {
  return async (event) => {
    try {
      if (box) showAlert(box, "");
      await fn(event);
    } catch (error) {
      if (error && error.name === "AbortError") return;
      if (box) showAlert(box, errorMessage(error));
      else toast(errorMessage(error));
    }
  };
}

export function screenError(main, error, title = "Could not load this page") {
  main.replaceChildren(
    h("section", {class: "card empty-state"}, h("h1", {}, title), h("p", {role: "alert", class: "error"}, errorMessage(error))),
  );
}

export function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}
