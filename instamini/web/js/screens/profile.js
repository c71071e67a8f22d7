// #/u/:username and #/me: a profile. Avatar, names, bio, counts, the grid (paged), and the
// buttons the relationship allows: Follow / Unfollow / Requested / Unblock, Block (behind
// an inline confirmation), Message. On your own: Edit profile and Follow requests.
// ?list=followers or ?list=following shows those lists under the counts.

import {del, get, post as postJson} from "../api.js";
import {h, toast} from "../dom.js";
import {go} from "../router.js";
import {postGrid} from "../components/post_card.js";
import {avatar} from "../components/media.js";
import {currentUser} from "../components/session.js";
import {pagedUsers} from "../components/user_list.js";
import {action, count, errorMessage, screenError, statusLine} from "../components/ui.js";

export async function render(main, params) {
  let left = false;
  let me = null;
  let username = params.username;
  let profile;
  try {
    me = await currentUser();
    if (!username) {
      if (!me) {
        go("/login");
        return;
      }
      username = me.username;
    }
    profile = await get(`/api/v1/users/${encodeURIComponent(username)}`);
  } catch (error) {
    screenError(main, error, error.status === 404 ? "Sorry, this page isn't available" : "Could not load this profile");
    return;
  }
  const name = profile.username;
  const base = `/api/v1/users/${encodeURIComponent(name)}`;
  const self = me && String(me.id) === String(profile.id);
  const rel = profile.relationship || {following: false, requested: false, followed_by: false, blocking: false};
  const canSee = self || !profile.private || rel.following;
  const status = statusLine();
  const profileHash = self && !params.username ? "#/me" : `#/u/${encodeURIComponent(name)}`;

  // -- header --------------------------------------------------------------------------
  const counts = profile.counts || {posts: 0, followers: 0, following: 0};
  const listLink = (which, n, one, many) =>
    canSee
      ? h("a", {href: `${profileHash}?list=${which}`, class: "count-link", "aria-current": params.query.get("list") === which ? "true" : undefined},
        h("strong", {}, String(n)), ` ${n === 1 ? one : many}`)
      : h("span", {class: "count-link"}, h("strong", {}, String(n)), ` ${n === 1 ? one : many}`);
  const actions = h("div", {class: "row profile-actions"});
  const followersLink = listLink("followers", counts.followers, "follower", "followers");
  const setFollowers = (n) => {
    counts.followers = Math.max(0, n);
    followersLink.replaceChildren(h("strong", {}, String(counts.followers)), ` ${counts.followers === 1 ? "follower" : "followers"}`);
  };
  const header = h(
    "header",
    {class: "profile-head"},
    avatar(profile, "avatar-xl"),
    h("div", {class: "profile-info"},
      h("h1", {class: "profile-name"}, name),
      profile.display_name ? h("p", {class: "display-name"}, profile.display_name) : null,
      h("p", {class: "counts"},
        h("span", {class: "count-link"}, h("strong", {}, String(counts.posts)), ` ${counts.posts === 1 ? "post" : "posts"}`),
        followersLink,
        listLink("following", counts.following, "following", "following")),
      profile.bio ? h("p", {class: "bio"}, profile.bio) : null,
      rel.followed_by && !self ? h("p", {class: "muted"}, "Follows you") : null,
      actions),
  );

  // -- actions -------------------------------------------------------------------------
  function paintActions() {
    actions.replaceChildren();
    if (self) {
      const requestsLink = h("a", {href: "#/requests", class: "button"}, "Follow requests");
      actions.append(h("a", {href: "#/settings", class: "button"}, "Edit profile"), requestsLink);
      get("/api/v1/follow-requests?limit=100")
        .then((page) => {
          const n = page.items.length;
          if (n && !left) requestsLink.append(" ", h("span", {class: "badge"}, page.next_cursor ? `${n}+` : String(n)));
        })
        .catch(() => {});
      return;
    }
    if (!me) {
      actions.append(h("a", {href: "#/login", class: "button"}, "Log in to follow"));
      return;
    }
    if (rel.blocking) {
      const unblock = h("button", {type: "button"}, "Unblock");
      unblock.addEventListener("click", action(async () => {
        await del(`${base}/block`);
        toast(`Unblocked ${name}`);
        go(profileHash.slice(1));
      }));
      actions.append(unblock);
      return;
    }
    let follow;
    if (rel.following) {
      follow = h("button", {type: "button"}, "Unfollow");
      follow.addEventListener("click", action(async () => {
        await del(`${base}/follow`);
        rel.following = false;
        setFollowers(counts.followers - 1);
        status.textContent = `You unfollowed ${name}`;
        if (profile.private) return go(profileHash.slice(1));
        paintActions();
        actions.querySelector("button")?.focus();
      }));
    } else if (rel.requested) {
      follow = h("button", {type: "button", title: "Withdraw the request"}, "Requested");
      follow.addEventListener("click", action(async () => {
        await del(`${base}/follow`);
        rel.requested = false;
        status.textContent = "Request withdrawn";
        paintActions();
        actions.querySelector("button")?.focus();
      }));
    } else {
      follow = h("button", {type: "button", class: "primary"}, "Follow");
      follow.addEventListener("click", action(async () => {
        follow.disabled = true;
        try {
          const result = await postJson(`${base}/follow`);
          rel.following = result.state === "following";
          if (rel.following) setFollowers(counts.followers + 1);
          rel.requested = result.state === "requested";
          status.textContent = rel.following ? `You follow ${name}` : rel.requested ? "Follow request sent" : "";
        } finally {
          follow.disabled = false;
        }
        if (rel.following && profile.private) return go(profileHash.slice(1));
        paintActions();
        actions.querySelector("button")?.focus();
      }));
    }
    const message = h("button", {type: "button"}, "Message");
    message.addEventListener("click", action(async () => {
      const thread = await postJson("/api/v1/threads", {usernames: [name]});
      go(`/messages/${thread.id}`);
    }));
    const block = h("button", {type: "button", class: "danger", "aria-expanded": "false"}, "Block");
    const confirmBox = h("div", {class: "confirm card", role: "group", "aria-label": `Block ${name}?`},
      h("p", {}, `Block ${name}? They will not be able to find your profile or posts, and follows both ways end.`));
    confirmBox.hidden = true;
    const confirmYes = h("button", {type: "button", class: "danger"}, `Block ${name}`);
    const confirmNo = h("button", {type: "button"}, "Cancel");
    confirmBox.append(h("div", {class: "row"}, confirmYes, confirmNo));
    block.addEventListener("click", () => {
      confirmBox.hidden = false;
      block.setAttribute("aria-expanded", "true");
      confirmNo.focus();
    });
    confirmNo.addEventListener("click", () => {
      confirmBox.hidden = true;
      block.setAttribute("aria-expanded", "false");
      block.focus();
    });
    confirmYes.addEventListener("click", action(async () => {
      await postJson(`${base}/block`);
      toast(`Blocked ${name}`);
      go(profileHash.slice(1));
    }));
    actions.append(follow, message, block, confirmBox);
  }
  paintActions();

  // -- lists and grid ------------------------------------------------------------------
  const body = h("div", {class: "profile-body"});
  main.replaceChildren(h("div", {class: "profile"}, header, status, body));

  const which = params.query.get("list");
  if (canSee && !rel.blocking && (which === "followers" || which === "following")) {
    const title = which === "followers" ? "Followers" : "Following";
    const people = pagedUsers(`${base}/${which}`, {label: title, empty: which === "followers" ? "No followers yet." : "Not following anyone yet."});
    body.append(h("section", {class: "card", "aria-labelledby": "people-title"},
      h("div", {class: "spread"}, h("h2", {id: "people-title", class: "section-title"}, title), h("a", {href: profileHash}, "Back to posts")),
      people));
    try {
      await people.load();
    } catch (error) {
      people.note.hidden = false;
      people.note.textContent = errorMessage(error);
    }
    return () => (left = true);
  }

  if (rel.blocking) {
    body.append(h("p", {class: "empty-state"}, `You blocked ${name}.`));
    return () => (left = true);
  }
  if (!canSee) {
    body.append(h("section", {class: "card empty-state private"}, h("h2", {class: "section-title"}, "This account is private"),
      h("p", {class: "muted"}, rel.requested ? "Your request is waiting for their answer." : "Follow this account to see their photos and videos.")));
    return () => (left = true);
  }

  const grid = postGrid([], {label: `Posts by ${name}`});
  const more = h("button", {type: "button", class: "wide"}, "Load more");
  const note = h("p", {class: "muted empty-state"});
  more.hidden = true;
  note.hidden = true;
  body.append(grid, note, more);
  let cursor = null;
  let loading = false;
  async function loadGrid() {
    if (loading) return;
    loading = true;
    try {
      const query = new URLSearchParams({limit: "24"});
      if (cursor) query.set("cursor", cursor);
      const page = await get(`${base}/posts?${query}`);
      if (left) return;
      grid.addPosts(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      note.textContent = self ? "Share your first photo: " : "No posts yet.";
      if (self) note.append(h("a", {href: "#/new"}, "New post"));
      note.hidden = grid.children.length > 0;
    } finally {
      loading = false;
    }
  }
  more.addEventListener("click", action(loadGrid));
  try {
    await loadGrid();
  } catch (error) {
    note.hidden = false;
    note.textContent = `Could not load the posts: ${errorMessage(error)}`;
  }
  return () => (left = true);
}
