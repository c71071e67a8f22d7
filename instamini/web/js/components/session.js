// Who is logged in, for screens of posts and profiles.
//
// Screens do not import ../main.js statically: main.js awaits the first screen at its top
// level, so a screen that imports it would wait for itself (a module deadlock). The
// account is read once per session (the CSRF cookie changes with every login), and
// main.js is reached lazily, from user actions, once it has finished loading.

import {csrfToken, get} from "../api.js";

let cached = {token: null, promise: Promise.resolve(null)};

export function currentUser() {
  const token = csrfToken();
  if (!token) return Promise.resolve(null);
  if (cached.token !== token) cached = {token, promise: get("/api/v1/me").catch(() => null)};
  return cached.promise;
}

export function forgetUser() {
  cached = {token: null, promise: Promise.resolve(null)};
}

// After login, signup, logout or a profile edit: the shell's navigation, socket and badge.
export async function refreshShell() {
  forgetUser();
  try {
    const main = await import("../main.js");
    return await main.refreshSession();
  } catch {
    return null;
  }
}
