// /system — an educator's live view of the architecture.
//
// An SVG diagram (built with createElementNS, no markup strings) of the clients, the
// gateway, the modules, the workers and the stores, each box saying the idea it
// implements, with live numbers read every second from GET /api/v1/system/stats.
// Every number carries data-metric="NAME". In development mode a "Feed strategy"
// select switches the home feed between push, pull and hybrid.

import {csrfToken, get, post} from "./api.js";

const NS = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const metrics = new Map(); // name -> [elements showing it]

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  for (const child of children) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function html(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function metricEl(el, name) {
  el.dataset.metric = name;
  if (!metrics.has(name)) metrics.set(name, []);
  metrics.get(name).push(el);
  return el;
}

function setMetric(name, value) {
  for (const el of metrics.get(name) || []) {
    const text = String(value);
    if (el.textContent !== text) {
      el.textContent = text;
      const box = el.closest(".box");
      if (box) {
        box.classList.remove("pulse");
        void box.getBoundingClientRect(); // restart the highlight
        box.classList.add("pulse");
      }
    }
  }
}

// Split a sentence into lines of at most `width` characters.
function wrap(text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && (line + " " + word).length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

// One box: a title, the idea it implements, and lines of live figures.
function box({id, x, y, w, h, title, idea, lines = [], kind = "module"}) {
  const group = svg("g", {class: `box ${kind}`, id: `box-${id}`, transform: `translate(${x} ${y})`});
  group.append(svg("title", {}, `${title}: ${idea}`));
  group.append(svg("rect", {width: w, height: h, rx: 10, ry: 10, class: "box-rect"}));
  group.append(svg("text", {x: 10, y: 20, class: "box-title"}, title));
  const chars = Math.floor((w - 16) / 5.6);
  let at = 35;
  for (const line of wrap(idea, chars)) {
    group.append(svg("text", {x: 10, y: at, class: "box-idea"}, line));
    at += 12;
  }
  at += 4;
  for (const [label, name, initial = "–"] of lines) {
    const value = metricEl(svg("tspan", {class: "box-value"}, initial), name);
    group.append(svg("text", {x: 10, y: at, class: "box-line"}, svg("tspan", {class: "box-label"}, `${label} `), value));
    at += 15;
  }
  return group;
}

const MODULES = [
  ["accounts", "Accounts", "Hashed session tokens; HttpOnly cookie plus CSRF token", [["users", "users_total"]]],
  ["graph", "Graph", "Follows stored on both people's shards", [["edge rows", "edges_total"]]],
  ["media", "Media", "Uploads checked and re-encoded off the request path", [["processed", "media_processed"], ["queued", "media_queued"]]],
  ["posts", "Posts", "Sharded by author; likes and comments counted", [["posts", "posts_total"], ["likes", "likes_total"]]],
  ["feed", "Feed", "Fan-out on write, pull for celebrities (hybrid)", [["strategy", "feed_strategy"], ["timelines", "timelines"]]],
  ["ranker", "Ranker", "Logistic regression learned online from impressions", [["shown", "ranker_impressions"], ["liked", "ranker_interacted"]]],
  ["realtime", "Realtime", "One socket per device; the hub pushes frames", [["sockets", "sockets_open"], ["online", "users_online"]]],
  ["messages", "Messages", "Stored durably, then acknowledged and pushed", [["messages", "messages_total"]]],
  ["notifications", "Notifications", "Events grouped: \"alice and 3 others\"", []],
  ["stories", "Stories", "Expire after 24 h; the tray served from the cache", []],
  ["search", "Search", "Prefix indexes (FTS5) on every shard, merged", []],
  ["explore", "Explore", "Candidates from several sources, then ranked", []],
  ["moderation", "Moderation", "Reports, a spam filter, an image blocklist", []],
];

function buildDiagram(holder) {
  const W = 1000;
  const root = svg("svg", {viewBox: `0 0 ${W} 800`, role: "img", "aria-labelledby": "diagram-title diagram-desc", class: "arch"});
  root.append(svg("title", {id: "diagram-title"}, "instamini's architecture"));
  root.append(svg("desc", {id: "diagram-desc"},
    "Clients reach an HTTP and websocket gateway; it hands each request to a module; modules keep data in SQLite shards, an LMDB cache and a blob store; a fan-out worker and media workers do the slow work in the background."));
  const defs = svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"},
    svg("path", {d: "M0 0 L10 5 L0 10 z", class: "arrow-head"})));
  root.append(defs);
  const wires = svg("g", {class: "wires"});
  root.append(wires);
  const line = (d, cls = "wire") => wires.append(svg("path", {d, class: cls, "marker-end": "url(#arrow)"}));

  root.append(box({id: "clients", x: 330, y: 10, w: 340, h: 62, kind: "client", title: "Clients",
    idea: "Browsers (this web app) and API clients; JSON over HTTP, live frames over one websocket"}));
  root.append(box({id: "gateway", x: 200, y: 102, w: 600, h: 84, kind: "gateway", title: "HTTP + websocket gateway",
    idea: "Litestar: JSON API with cookie sessions, CSRF and rate limits; /ws authenticated at the handshake",
    lines: [["requests/s", "requests_per_second"], ["requests", "requests_total"]]}));
  line("M500 72 L500 100");

  // Modules, in two rows, on a bus from the gateway.
  const bw = 130, gap = 10, bh = 128;
  const rows = [MODULES.slice(0, 7), MODULES.slice(7)];
  wires.append(svg("path", {d: "M500 186 L500 206 M20 206 L980 206", class: "wire bus"}));
  rows.forEach((row, r) => {
    const startX = (W - (row.length * bw + (row.length - 1) * gap)) / 2;
    row.forEach(([id, title, idea, lines], i) => {
      const x = startX + i * (bw + gap);
      const y = 222 + r * (bh + 14);
      if (r === 0) line(`M${x + bw / 2} 206 L${x + bw / 2} ${y - 2}`);
      else line(`M${x + bw / 2} 206 L${x + bw / 2} 216`, "wire faint");
      root.append(box({id, x, y, w: bw, h: bh, title, idea, lines}));
    });
  });

  // Workers.
  const wy = 520;
  wires.append(svg("path", {d: "M20 506 L980 506", class: "wire bus"}));
  root.append(box({id: "fanout", x: 20, y: wy, w: 470, h: 100, kind: "worker", title: "Fan-out worker",
    idea: "Fan-out on write: a new post waits in an outbox, then is written into each active follower's cached timeline",
    lines: [["outbox", "outbox_depth"], ["lag p50 / p99", "fanout_lag"], ["delivered", "fanout_delivered"]]}));
  root.append(box({id: "workers", x: 510, y: wy, w: 470, h: 100, kind: "worker", title: "Media workers",
    idea: "A process pool re-encodes photos and videos into sized variants; a crash or timeout fails one job only",
    lines: [["busy / workers", "media_workers"], ["failed", "media_failed"]]}));
  line("M255 506 L255 518");
  line("M745 506 L745 518");

  // Stores.
  const sy = 670, sw = 310;
  wires.append(svg("path", {d: "M20 648 L980 648", class: "wire bus"}));
  root.append(box({id: "shards", x: 20, y: sy, w: sw, h: 112, kind: "store", title: "SQLite shards",
    idea: "Sharding: rows partitioned by id over several database files; one writer per shard",
    lines: [["shards", "shards"], ["commits", "commits"]]}));
  root.append(box({id: "cache", x: 345, y: sy, w: sw, h: 112, kind: "store", title: "LMDB cache",
    idea: "Cache-aside: read the cache first, fill it from the shards on a miss; timelines live here",
    lines: [["hit ratio", "cache_hit_ratio"], ["entries", "cache_entries"]]}));
  root.append(box({id: "blobs", x: 670, y: sy, w: sw, h: 112, kind: "store", title: "Blob store",
    idea: "Media bytes as immutable files: long cache lifetimes, ETags and range requests",
    lines: [["files made", "media_processed"]]}));
  for (const x of [175, 500, 825]) line(`M${x} 648 L${x} ${sy - 2}`);
  holder.replaceChildren(root);
}

function buildSummary(holder) {
  const tiles = [
    ["Requests per second", "requests_per_second"],
    ["Cache hit ratio", "cache_hit_ratio"],
    ["Outbox depth", "outbox_depth"],
    ["Fan-out lag (p50 / p99)", "fanout_lag"],
    ["Open sockets", "sockets_open"],
    ["People online", "users_online"],
    ["Media jobs queued", "media_queued"],
    ["Uptime", "uptime"],
  ];
  holder.replaceChildren(html("dl", {class: "tiles"}, ...tiles.map(([label, name]) =>
    html("div", {class: "tile"}, html("dt", {}, label), metricEl(html("dd", {}, "–"), name)))));
}

// -- figures -----------------------------------------------------------------------------

const count = (n) => (typeof n === "number" ? n.toLocaleString("en") : "–");
const seconds = (s) => (typeof s === "number" ? (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`) : "–");

function uptime(s) {
  if (typeof s !== "number") return "–";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${sec} s` : `${sec} s`;
}

let previous = null;

function show(stats) {
  const shards = stats.shards || [];
  const total = (field) => shards.reduce((sum, row) => sum + (row[field] || 0), 0);
  let rate = "–";
  if (previous && stats.now > previous.now) rate = ((stats.requests - previous.requests) / (stats.now - previous.now)).toFixed(1);
  previous = {now: stats.now, requests: stats.requests};
  const feed = stats.feed, cache = stats.cache, media = stats.media, hub = stats.realtime, ranker = stats.ranker, meta = stats.meta;
  const lag = feed && feed.fanout_lag;
  const figures = {
    requests_per_second: rate,
    requests_total: count(stats.requests),
    uptime: uptime(stats.uptime_seconds),
    users_total: count(total("users")),
    posts_total: count(total("posts")),
    edges_total: count(total("edges")),
    likes_total: count(total("likes")),
    comments_total: count(total("comments")),
    messages_total: count(total("messages")),
    shards: meta ? count(meta.shards) : count(shards.length),
    commits: meta ? count(meta.commits) : "–",
    cache_hit_ratio: cache ? `${(cache.hit_ratio * 100).toFixed(1)}%` : "off",
    cache_entries: cache ? count(cache.entries) : "off",
    outbox_depth: feed ? count(feed.outbox_depth) : "off",
    fanout_lag: lag && lag.count ? `${seconds(lag.p50)} / ${seconds(lag.p99)}` : feed ? "no posts yet" : "off",
    fanout_delivered: feed ? count(feed.delivered) : "off",
    feed_strategy: feed ? feed.strategy : "off",
    timelines: feed ? count(feed.timelines) : "off",
    sockets_open: hub ? count(hub.sockets) : "off",
    users_online: hub ? count(hub.users_online) : "off",
    media_processed: media ? count(media.processed) : "off",
    media_queued: media ? count(media.queued) : "off",
    media_failed: media ? count(media.failed) : "off",
    media_workers: media ? `${count(media.busy)} / ${count(media.workers)}` : "off",
    ranker_impressions: ranker ? count(ranker.impressions) : "off",
    ranker_interacted: ranker ? count(ranker.interacted) : "off",
  };
  for (const [name, value] of Object.entries(figures)) setMetric(name, value);
  const enabled = new Set(stats.modules || []);
  for (const [id] of MODULES) {
    const group = document.getElementById(`box-${id}`);
    if (group) group.classList.toggle("off", enabled.size > 0 && !enabled.has(id));
  }
  showShards(shards, total);
  showWeights(ranker);
  showStrategy(stats);
}

const COLUMNS = ["users", "posts", "edges", "likes", "comments", "messages"];

function showShards(shards, total) {
  const table = document.getElementById("shards");
  const caption = table.querySelector("caption");
  const head = html("thead", {}, html("tr", {}, html("th", {scope: "col"}, "shard"), ...COLUMNS.map((c) => html("th", {scope: "col"}, c))));
  const body = html("tbody", {}, ...shards.map((row) => html("tr", {},
    html("th", {scope: "row"}, String(row.shard)),
    ...COLUMNS.map((c) => html("td", {"data-metric": `shard_${row.shard}_${c}`}, count(row[c]))))));
  const foot = html("tfoot", {}, html("tr", {}, html("th", {scope: "row"}, "all"),
    ...COLUMNS.map((c) => html("td", {"data-metric": `${c}_total`}, count(total(c))))));
  table.replaceChildren(caption, head, body, foot);
}

function showWeights(ranker) {
  const table = document.getElementById("weights");
  const caption = table.querySelector("caption");
  if (!ranker || !ranker.weights) {
    table.replaceChildren(caption, html("tbody", {}, html("tr", {}, html("td", {}, "The ranker module is off."))));
    return;
  }
  const entries = Object.entries(ranker.weights).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const largest = Math.max(1e-9, ...entries.map(([, w]) => Math.abs(w)));
  const rows = entries.map(([name, weight]) => {
    const bar = html("span", {class: weight < 0 ? "bar negative" : "bar"});
    bar.style.width = `${(Math.abs(weight) / largest) * 100}%`;
    return html("tr", {}, html("th", {scope: "row"}, name),
      html("td", {class: "num", "data-metric": `ranker_weight_${name}`}, weight.toFixed(3)),
      html("td", {class: "bar-cell", "aria-hidden": "true"}, bar));
  });
  table.replaceChildren(caption,
    html("thead", {}, html("tr", {}, html("th", {scope: "col"}, "feature"), html("th", {scope: "col"}, "weight"), html("th", {scope: "col"}, html("span", {class: "visually-hidden"}, "size")))),
    html("tbody", {}, ...rows),
    html("tfoot", {}, html("tr", {}, html("td", {colspan: "3"},
      `${count(ranker.impressions)} impressions, ${count(ranker.interacted)} with an interaction, ${count(ranker.pending)} waiting for a label, ${count(ranker.retrains)} retrains`))));
}

const EXPLAIN = {
  push: "Push (fan-out on write): every new post is written into each follower's timeline when it is shared, so reading the feed is cheap but a post by someone with many followers costs many writes (watch the outbox).",
  pull: "Pull (fan-out on read): nothing is written ahead; each feed is assembled when it is opened from the recent posts of everyone followed, so writes are cheap and reads do the work.",
  hybrid: "Hybrid: posts are pushed to the followers of ordinary accounts and pulled at read time for celebrities with very many followers, the mix large networks use.",
};

let strategyReady = false;
function showStrategy(stats) {
  const card = document.getElementById("strategy-card");
  const select = document.getElementById("strategy");
  const explain = document.getElementById("strategy-explain");
  card.hidden = !(stats.debug && stats.feed);
  if (card.hidden) return;
  if (!strategyReady) {
    strategyReady = true;
    if (!csrfToken()) { // switching needs a session (the route is for logged-in people)
      select.disabled = true;
      card.append(html("p", {class: "muted"}, "Log in to the app in this browser to switch it."));
    }
    select.addEventListener("change", async () => {
      const strategy = select.value;
      select.disabled = true;
      try {
        await post("/api/v1/system/feed-strategy", {strategy});
        explain.textContent = EXPLAIN[strategy] || "";
        setStatus(`Feed strategy switched to ${strategy}.`);
      } catch (error) {
        alertText(`Could not switch the feed strategy: ${error.message}`);
      } finally {
        select.disabled = !csrfToken();
      }
    });
  }
  if (document.activeElement !== select && select.value !== stats.feed.strategy) {
    select.value = stats.feed.strategy;
  }
  if (!explain.textContent || document.activeElement !== select) explain.textContent = EXPLAIN[select.value] || "";
}

function setStatus(text) {
  document.getElementById("sys-status").textContent = text;
}

function alertText(text) {
  document.getElementById("sys-alert").textContent = text;
}

let failures = 0;
async function poll() {
  try {
    const stats = await get("/api/v1/system/stats");
    show(stats);
    if (failures) alertText("");
    failures = 0;
    const when = new Date(stats.now * 1000).toLocaleTimeString();
    setStatus(`Live · updated ${when}`);
  } catch (error) {
    failures += 1;
    alertText(`The figures could not be read (${error.message}); trying again.`);
  }
  setTimeout(poll, failures ? Math.min(10000, POLL_MS * 2 ** failures) : POLL_MS);
}

buildSummary(document.getElementById("summary"));
buildDiagram(document.getElementById("diagram"));
poll();
