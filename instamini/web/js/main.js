// The web app's entry: who is logged in, the routes, the live badge.
//
// Screens load on demand (dynamic import), so the first paint needs only this file,
// the router, the API wrapper and the DOM builder.

import {csrfToken, get} from "./api.js";
import {connect, on} from "./live.js";
import {route, setGuard, start} from "./router.js";

export const session = {me: null}; // the logged-in account, or null

const screen = (name) => () => import(`./screens/${name}.js`);

// Screens of posts, profiles and the account (css/posts.css).
route("/", screen("feed"));
route("/login", screen("auth"), {public: true});
route("/signup", screen("auth"), {public: true});
route("/p/:postId", screen("post"));
route("/new", screen("upload"));
route("/u/:username", screen("profile"));
route("/me", screen("profile"));
route("/settings", screen("settings"));
route("/requests", screen("requests"));
// Screens of discovery and conversation (css/social.css).
route("/stories/:username", screen("stories"));
route("/reels", screen("reels"));
route("/explore", screen("explore"));
route("/search", screen("search"));
route("/tags/:tag", screen("tag"));
route("/messages", screen("messages"));
route("/messages/:threadId", screen("thread"));
route("/notifications", screen("notifications"));

export function setBadge(count) {
  const badge = document.getElementById("badge");
  badge.textContent = String(count);
  badge.hidden = !count;
}

// After login, signup or logout: show or hide the navigation, connect the socket.
export async function refreshSession() {
  // No CSRF cookie means no session cookie either (they are set and cleared together):
  // do not ask, since a 401 would show as an error in the console.
  session.me = csrfToken() ? await get("/api/v1/me").catch(() => null) : null;
  document.getElementById("nav").hidden = !session.me;
  if (session.me) {
    connect();
    const {unread} = await get("/api/v1/notifications/unread").catch(() => ({unread: 0}));
    setBadge(unread);
  }
  return session.me;
}

on("notification", (frame) => {
  if (typeof frame.unread === "number") setBadge(frame.unread);
});

setGuard((path, screenRoute) => (session.me || screenRoute.isPublic ? null : "/login"));
await refreshSession();
await start();
