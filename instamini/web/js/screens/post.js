// #/p/:postId one post: its card, the comments with one level of replies, a comment box
// (with "Reply" setting reply_to), deleting comments, and the author's caption edit and delete.

import {del, get, patch, post as postJson} from "../api.js";
import {ago, h, toast} from "../dom.js";
import {go} from "../router.js";
import {postCard, userLink} from "../components/post_card.js";
import {richText} from "../components/rich_text.js";
import {currentUser} from "../components/session.js";
import {action, alertBox, errorMessage, screenError, showAlert, statusLine} from "../components/ui.js";

export async function render(main, params) {
  const id = params.postId;
  const path = `/api/v1/posts/${encodeURIComponent(id)}`;
  let post;
  let me;
  try {
    [post, me] = await Promise.all([get(path), currentUser()]);
  } catch (error) {
    screenError(main, error, error.status === 404 ? "This post is not available" : "Could not load this post");
    return;
  }
  let left = false;
  const mine = me && post.author && String(me.id) === String(post.author.id);
  const status = statusLine();
  const card = postCard(post, {linkTime: false, commentsLink: false});

  // -- the author's tools --------------------------------------------------------------
  const tools = h("div", {class: "post-tools"});
  if (mine) {
    const editBox = h("textarea", {id: "edit-caption", rows: "3", maxlength: "2200"});
    const editAlert = alertBox();
    const editForm = h(
      "form",
      {class: "edit-caption"},
      h("label", {for: "edit-caption"}, "Edit the caption"),
      editBox,
      editAlert,
      h("div", {class: "row"}, h("button", {type: "submit", class: "primary"}, "Save caption"),
        h("button", {type: "button", onclick: () => { editForm.hidden = true; editButton.focus(); }}, "Cancel")),
    );
    editForm.hidden = true;
    const editButton = h("button", {type: "button"}, "Edit caption");
    editButton.addEventListener("click", () => {
      editBox.value = post.caption || "";
      editForm.hidden = false;
      editBox.focus();
    });
    editForm.addEventListener(
      "submit",
      action(async (event) => {
        event.preventDefault();
        const updated = await patch(path, {caption: editBox.value});
        post.caption = updated.caption;
        card.setCaption(updated.caption);
        editForm.hidden = true;
        status.textContent = "Caption saved";
        editButton.focus();
      }, editAlert),
    );
    const deleteButton = h("button", {type: "button", class: "danger"}, "Delete post");
    deleteButton.addEventListener(
      "click",
      action(async () => {
        deleteButton.disabled = true;
        try {
          await del(path);
        } catch (error) {
          deleteButton.disabled = false;
          throw error;
        }
        toast("Post deleted");
        go("/me");
      }),
    );
    tools.append(editButton, deleteButton, editForm);
  }

  // -- comments ---------------------------------------------------------------------------
  const list = h("ul", {class: "comments", "aria-label": "Comments"});
  const more = h("button", {type: "button", class: "link-button"}, "Load more comments");
  more.hidden = true;
  let cursor = null;
  let total = post.comment_count || 0;

  const textBox = h("textarea", {id: "comment-text", rows: "2", maxlength: "2200", required: true});
  const replyNote = h("p", {class: "reply-note muted"});
  replyNote.hidden = true;
  let replyTo = null; // {id, username}
  const setReply = (comment) => {
    replyTo = comment ? {id: comment.id, username: comment.author.username} : null;
    replyNote.replaceChildren();
    replyNote.hidden = !replyTo;
    if (replyTo) {
      replyNote.append(`Replying to @${replyTo.username} `,
        h("button", {type: "button", class: "link-button", onclick: () => { setReply(null); textBox.focus(); }}, "Cancel reply"));
      const mention = `@${replyTo.username} `;
      if (!textBox.value.startsWith(mention)) textBox.value = mention + textBox.value;
      textBox.focus();
      textBox.setSelectionRange(textBox.value.length, textBox.value.length);
    }
  };

  const canDelete = (comment) => me && (String(comment.author.id) === String(me.id) || mine);

  function commentItem(comment, topLevel) {
    const replies = h("ul", {class: "replies", "aria-label": `Replies to ${comment.author.username}`});
    const body = h(
      "div",
      {class: "comment-body"},
      h("p", {class: "comment-text"}, h("a", {href: `#/u/${encodeURIComponent(comment.author.username)}`, class: "username"}, comment.author.username), " ", ...richText(comment.text)),
      h("p", {class: "comment-meta muted"},
        h("time", {datetime: comment.created_at}, ago(comment.created_at)),
        " ",
        me ? h("button", {type: "button", class: "link-button", onclick: () => setReply(comment)}, "Reply") : null,
        " ",
        canDelete(comment)
          ? h("button", {type: "button", class: "link-button danger", onclick: action(async () => {
            await del(`/api/v1/comments/${encodeURIComponent(comment.id)}`);
            const removed = 1 + (topLevel ? (comment.reply_count || 0) : 0);
            item.remove();
            total = Math.max(0, total - removed);
            card.setCommentCount(total);
            status.textContent = "Comment deleted";
          })}, "Delete comment")
          : null),
    );
    const item = h("li", {class: "comment", dataset: {commentId: comment.id}}, h("div", {class: "comment-row"}, userLink(comment.author, {withName: false}), body));
    if (!topLevel) return item;
    item.append(replies);
    item.replies = replies;
    for (const reply of comment.replies || []) replies.append(commentItem(reply, false));
    let shown = (comment.replies || []).length;
    let replyCursor = shown ? comment.replies[shown - 1].id : null;
    if ((comment.reply_count || 0) > shown) {
      const moreReplies = h("button", {type: "button", class: "link-button more-replies"}, `View ${comment.reply_count - shown} more replies`);
      moreReplies.addEventListener(
        "click",
        action(async () => {
          const query = new URLSearchParams({limit: "20"});
          if (replyCursor) query.set("cursor", replyCursor);
          const page = await get(`/api/v1/comments/${encodeURIComponent(comment.id)}/replies?${query}`);
          const known = new Set([...replies.children].map((li) => li.dataset.commentId));
          for (const reply of page.items) if (!known.has(reply.id)) replies.append(commentItem(reply, false));
          shown += page.items.length;
          replyCursor = page.next_cursor;
          if (!replyCursor) moreReplies.remove();
        }),
      );
      item.append(moreReplies);
    }
    return item;
  }

  async function loadComments() {
    const query = new URLSearchParams({limit: "20"});
    if (cursor) query.set("cursor", cursor);
    const page = await get(`${path}/comments?${query}`);
    if (left) return;
    for (const comment of page.items) list.append(commentItem(comment, true));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  }
  more.addEventListener("click", action(loadComments));

  const empty = h("p", {class: "muted"}, "No comments yet.");
  const formAlert = alertBox();
  const submit = h("button", {type: "submit", class: "primary"}, "Post comment");
  const form = h(
    "form",
    {class: "comment-form"},
    h("label", {for: "comment-text"}, "Add a comment"),
    replyNote,
    textBox,
    formAlert,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(formAlert, "");
    const text = textBox.value.trim();
    if (!text) {
      showAlert(formAlert, "Write something first");
      return;
    }
    submit.disabled = true;
    try {
      const body = {text};
      if (replyTo) body.reply_to = replyTo.id;
      const created = await postJson(`${path}/comments`, body);
      const parentId = created.parent_id;
      const parent = parentId ? list.querySelector(`li.comment[data-comment-id="${CSS.escape(parentId)}"]`) : null;
      if (parent && parent.replies) parent.replies.append(commentItem(created, false));
      else list.append(commentItem(created, !parentId));
      empty.hidden = true;
      textBox.value = "";
      setReply(null);
      total += 1;
      card.setCommentCount(total);
      status.textContent = "Comment posted";
    } catch (error) {
      showAlert(formAlert, errorMessage(error));
    } finally {
      submit.disabled = false;
    }
  });

  main.replaceChildren(
    h("div", {class: "post-page"}, card, tools, status,
      h("section", {class: "card comments-section", "aria-labelledby": "comments-title"},
        h("h2", {id: "comments-title", class: "section-title"}, "Comments"),
        list, empty, more, me ? form : h("p", {}, h("a", {href: "#/login"}, "Log in"), " to comment."))),
  );
  try {
    await loadComments();
  } catch (error) {
    empty.hidden = true;
    list.replaceWith(h("p", {role: "alert", class: "error"}, `Could not load the comments: ${errorMessage(error)}`));
  }
  return () => {
    left = true;
  };
}
