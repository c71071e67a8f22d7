// #/requests: follow requests waiting for you, each with Approve and Reject.

import {post} from "../api.js";
import {h} from "../dom.js";
import {pagedUsers, userRow} from "../components/user_list.js";
import {action, errorMessage, statusLine} from "../components/ui.js";

export async function render(main) {
  const status = statusLine();
  const row = (user) => {
    const base = `/api/v1/follow-requests/${encodeURIComponent(user.username)}`;
    const approve = h("button", {type: "button", class: "primary", "aria-label": `Approve ${user.username}`}, "Approve");
    const reject = h("button", {type: "button", "aria-label": `Reject ${user.username}`}, "Reject");
    const answer = (verb, message) =>
      action(async () => {
        approve.disabled = true;
        reject.disabled = true;
        try {
          await post(`${base}/${verb}`);
        } catch (error) {
          approve.disabled = false;
          reject.disabled = false;
          throw error;
        }
        item.remove();
        status.textContent = message;
        people.note.textContent = "No requests waiting.";
        people.note.hidden = people.list.children.length > 0;
      });
    approve.addEventListener("click", answer("approve", `${user.username} now follows you`));
    reject.addEventListener("click", answer("reject", `Request from ${user.username} rejected`));
    const item = userRow(user, approve, reject);
    return item;
  };
  const people = pagedUsers("/api/v1/follow-requests", {label: "Follow requests", empty: "No requests waiting.", row});
  main.replaceChildren(
    h("section", {class: "card"}, h("h1", {class: "section-title"}, "Follow requests"), status, people),
  );
  try {
    await people.load();
  } catch (error) {
    people.note.hidden = false;
    people.note.textContent = `Could not load the requests: ${errorMessage(error)}`;
  }
}
