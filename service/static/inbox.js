// The review inbox: one kept photo at a time with its suggested tags (flagged ones
// highlighted, each a pick list of the catalogue's values with the runner-ups first),
// accept / correct / reject / undo from the keyboard, and accept-all of the unflagged.
// Uses app.js's helpers ($, el, api, humanError).
"use strict";
const INBOX_PAGE = 200; // the API's largest page
let inbox = { ids: [], pos: 0, item: null, done: [] };

function inboxKey() { return $("inbox-key").value.trim() || $("api-key").value.trim(); }
function inboxSay(text) { $("inbox-status").textContent = text || ""; }

function inboxCounts(counts) {
  $("inbox-counts").textContent =
    `${counts.pending} waiting · ${counts.accepted} accepted · ${counts.rejected} rejected`;
}

async function inboxLoad(keepPos = false) {
  const flagged = $("inbox-flagged").checked ? "&needs_review=true" : "";
  let page;
  try {
    page = await api(`/review?status=pending&limit=${INBOX_PAGE}${flagged}`);
  } catch (e) { const { title, detail } = humanError(e); inboxSay(`${title}: ${detail}`); return; }
  inboxCounts(page.counts);
  inbox.ids = page.items.map((i) => i.id);
  if (!keepPos) inbox.pos = 0;
  inbox.pos = Math.min(inbox.pos, Math.max(inbox.ids.length - 1, 0));
  await inboxShow();
}

async function inboxShow(id) {
  const target = id ?? inbox.ids[inbox.pos];
  if (target == null) {
    $("inbox-item").hidden = true;
    inbox.item = null;
    inboxSay("Nothing waiting for review.");
    return;
  }
  let item;
  try { item = await api(`/review/${target}`); }
  catch (e) { const { title, detail } = humanError(e); inboxSay(`${title}: ${detail}`); return; }
  inbox.item = item;
  $("inbox-item").hidden = false;
  $("inbox-item").dataset.id = item.id;
  $("inbox-photo").hidden = !item.image;
  if (item.image) $("inbox-photo").src = item.image;
  $("inbox-title").textContent = item.title || `Item ${item.id}`;
  const left = inbox.ids.length;
  $("inbox-where").textContent = `Item ${item.id} · ${inbox.pos + 1} of ${left}` +
    (item.flagged.length ? ` · ${item.flagged.length} tag${item.flagged.length === 1 ? "" : "s"} to check` : " · nothing flagged");
  const box = $("inbox-tags");
  box.replaceChildren();
  for (const [family, t] of Object.entries(item.suggested)) {
    const listId = `inbox-values-${family}`;
    const list = el("datalist", { id: listId }, ...t.choices.map((v) => el("option", { value: v })));
    const input = el("input", { value: t.value, list: listId, "aria-label": family, "data-family": family });
    input.dataset.suggested = t.value;
    input.addEventListener("input", () => row.classList.toggle("edited", input.value.trim() !== t.value));
    const why = t.audit ? "spot check" : t.held ? "needs a person" : t.review ? "low score" : "";
    const runnerUps = t.alternatives.map(([v, s]) => `${v} ${Math.round(s * 100)}%`).join(", ");
    const row = el("label", { class: `inbox-tag${t.review ? " review" : ""}`, "data-family": family },
      el("span", { class: "family" }, family), input,
      el("small", { title: runnerUps ? `runner-ups: ${runnerUps}` : "" },
        `${Math.round(t.score * 100)}%${why ? " · " + why : ""}`), list);
    box.append(row);
  }
  inboxSay("");
  const first = box.querySelector(".inbox-tag.review input");
  if (first) first.focus({ preventScroll: true });
}

async function inboxWrite(url, body) {
  const key = inboxKey();
  if (!key) { inboxSay("Enter the server's API key to decide."); return null; }
  try {
    return await api(url, {
      method: "POST",
      headers: { "X-API-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  } catch (e) { const { title, detail } = humanError(e); inboxSay(`${title}: ${detail}`); return null; }
}

async function inboxDecide(accept) {
  const item = inbox.item;
  if (!item) return;
  const corrections = {};
  for (const input of $("inbox-tags").querySelectorAll("input")) {
    const value = input.value.trim();
    if (value && value !== input.dataset.suggested) corrections[input.dataset.family] = value;
  }
  const done = accept
    ? await inboxWrite(`/review/${item.id}/accept`, { corrections, by: "page" })
    : await inboxWrite(`/review/${item.id}/reject`, { by: "page" });
  if (!done) return;
  inbox.done.push(item.id);
  const fixed = Object.keys(corrections).length;
  await inboxLoad(true);
  inboxSay(accept
    ? `Accepted item ${item.id}${fixed ? ` with ${fixed} correction${fixed === 1 ? "" : "s"}` : ""}: it is in the catalogue now.`
    : `Rejected item ${item.id}.`);
}

async function inboxUndo() {
  const last = inbox.done.pop();
  if (last == null) { inboxSay("Nothing to undo."); return; }
  if (!await inboxWrite(`/review/${last}/undo`)) { inbox.done.push(last); return; }
  await inboxLoad(true);
  const at = inbox.ids.indexOf(last);
  if (at >= 0) { inbox.pos = at; await inboxShow(); }
  inboxSay(`Item ${last} is waiting again.`);
}

async function inboxBulk() {
  let page;
  try { page = await api(`/review?status=pending&needs_review=false&limit=${INBOX_PAGE}`); }
  catch (e) { const { title, detail } = humanError(e); inboxSay(`${title}: ${detail}`); return; }
  const ids = page.items.map((i) => i.id);
  if (!ids.length) { inboxSay("No unflagged items to accept."); return; }
  const done = await inboxWrite("/review/accept", { items: ids, by: "page" });
  if (!done) return;
  await inboxLoad();
  const n = done.items.length;
  inboxSay(`Accepted ${n} unflagged item${n === 1 ? "" : "s"}.`);
}

function inboxMove(step) {
  if (!inbox.ids.length) return;
  inbox.pos = (inbox.pos + step + inbox.ids.length) % inbox.ids.length;
  inboxShow();
}

document.addEventListener("shelfsight:view", (e) => { if (e.detail === "inbox") inboxLoad(); });
$("inbox-flagged").addEventListener("change", () => inboxLoad());
$("inbox-accept").addEventListener("click", () => inboxDecide(true));
$("inbox-reject").addEventListener("click", () => inboxDecide(false));
$("inbox-next").addEventListener("click", () => inboxMove(1));
$("inbox-prev").addEventListener("click", () => inboxMove(-1));
$("inbox-undo").addEventListener("click", inboxUndo);
$("inbox-bulk").addEventListener("click", inboxBulk);
document.addEventListener("keydown", (e) => {
  if ($("inbox-view").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target instanceof HTMLInputElement;
  if (typing && e.target.closest("#inbox-tags") && e.key === "Enter") {
    e.preventDefault();
    inboxDecide(true);
    return;
  }
  if (typing && e.key === "Escape") { e.target.blur(); return; } // back to the shortcuts
  if (typing) return;
  const actions = {
    a: () => inboxDecide(true), r: () => inboxDecide(false), u: inboxUndo,
    j: () => inboxMove(1), k: () => inboxMove(-1),
    ArrowRight: () => inboxMove(1), ArrowLeft: () => inboxMove(-1),
  };
  if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
});
