// A small hash router: "#/u/alice" -> the profile screen with {username: "alice"}.
//
// Hash routes need no server fallback (the server only serves / and /system), and
// back/forward work as the browser gives them. Each screen is a module exporting
// `render(main, params)`; it may return a function called when the screen is left
// (to close sockets, observers, timers).

const routes = [];
let leave = null;
let guard = () => null; // (path, route) -> a path to go to instead, or null

// `guard` runs before every screen: main.js sends logged-out people to #/login from
// every screen not marked {public: true}.
export function setGuard(check) {
  guard = check;
}

export function route(pattern, load, {public: isPublic = false} = {}) {
  // "/u/:username" -> /^\/u\/([^/]+)$/ with names ["username"]
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => (names.push(name), "([^/]+)"));
  routes.push({regex: new RegExp(`^${source}$`), names, load, isPublic});
}

export function go(path) {
  if (location.hash === "#" + path) render();
  else location.hash = path;
}

// Each render is numbered. A screen still loading when the next route starts (its
// fetches outlived the visit) draws into its own view, detached by then: it can never
// overwrite the screen after it, and its cleanup runs as soon as it finishes.
let generation = 0;

export async function render() {
  const mine = ++generation;
  const path = location.hash.slice(1) || "/";
  const main = document.getElementById("main");
  for (const entry of routes) {
    const {regex, names, load} = entry;
    const match = regex.exec(path.split("?")[0]);
    if (!match) continue;
    const elsewhere = guard(path, entry);
    if (elsewhere) {
      location.replace("#" + elsewhere); // replace: Back does not return to the refused screen
      return;
    }
    const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1])]));
    params.query = new URLSearchParams(path.split("?")[1] || "");
    if (leave) leave();
    leave = null;
    const view = document.createElement("div");
    view.className = "screen";
    main.replaceChildren(view);
    const screen = await load();
    if (mine !== generation) return;
    const cleanup = (await screen.render(view, params)) || null;
    if (mine !== generation) {
      if (cleanup) cleanup();
      return;
    }
    leave = cleanup;
    document.querySelectorAll("[data-nav]").forEach((a) => a.removeAttribute("aria-current"));
    const current = document.querySelector(`[data-nav="${path.split("/")[1] || "feed"}"]`);
    if (current) current.setAttribute("aria-current", "page");
    main.focus({preventScroll: true});
    return;
  }
  main.replaceChildren(Object.assign(document.createElement("p"), {textContent: "Nothing here."}));
}

export function start() {
  window.addEventListener("hashchange", render);
  return render();
}
