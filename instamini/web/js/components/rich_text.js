// Captions and comments as nodes: #hashtags link to their page, @mentions to the profile,
// everything else is a text node (so markup in user text shows as characters).

import {h} from "../dom.js";

const TOKEN = /(^|[^\p{L}\p{N}_&#])#([\p{L}\p{N}_]+)|(^|[^\p{L}\p{N}_.@])@([A-Za-z0-9._]+)/gu;

export function richText(text) {
  const nodes = [];
  let last = 0;
  for (const match of (text || "").matchAll(TOKEN)) {
    const lead = match[1] ?? match[3] ?? "";
    const start = match.index + lead.length;
    if (start > last) nodes.push(text.slice(last, start));
    if (match[2] !== undefined) {
      nodes.push(h("a", {href: `#/tags/${encodeURIComponent(match[2].toLowerCase())}`, class: "tag-link"}, `#${match[2]}`));
      last = start + 1 + match[2].length;
    } else {
      const name = match[4].replace(/\.+$/, "");
      nodes.push(h("a", {href: `#/u/${encodeURIComponent(name.toLowerCase())}`, class: "mention-link"}, `@${name}`));
      last = start + 1 + name.length;
    }
  }
  if (last < (text || "").length) nodes.push(text.slice(last));
  return nodes;
}
