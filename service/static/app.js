// The Shelfsight page: one photo in, tags + colours + shape + similar products +
// a description out. Plain DOM, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
let current = { file: null, productId: null };

function setStatus(text) { $("status").textContent = text || ""; }

async function api(url, options) {
  const res = await fetch(url, options);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.detail || body.error || `HTTP ${res.status}`);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function showTags(result) {
  const list = $("tags");
  list.replaceChildren();
  for (const [family, t] of Object.entries(result.tags)) {
    const pct = Math.round(t.score * 100);
    const bar = el("div", { class: "bar", title: `${pct}%` },
      el("span", { style: `width:${pct}%` }), el("em", {}, `${t.value} · ${pct}%`));
    list.append(el("li", { "data-family": family },
      el("span", { class: "family" }, family), bar, el("span", { class: "source" }, t.source)));
  }
  const sw = $("swatches");
  sw.replaceChildren();
  for (const s of (result.colour && result.colour.palette) || []) {
    sw.append(el("li", {}, el("i", { style: `background:${s.hex}` }),
      `${s.name} ${Math.round(s.share * 100)}%`));
  }
  const shape = $("shape");
  shape.replaceChildren();
  for (const [name, value] of Object.entries((result.shape && result.shape.tags) || {})) {
    shape.append(el("li", {}, `${name}: ${value}`));
  }
  $("tags-card").hidden = false;
}

function showProducts(title, results) {
  $("similar-title").textContent = title;
  const grid = $("similar");
  grid.replaceChildren();
  for (const p of results) {
    const card = el("button", { class: "product", type: "button", "data-id": p.id },
      el("img", { src: p.thumbnail, alt: p.title, loading: "lazy" }),
      el("div", {}, p.title, el("br"), el("small", {},
        p.distance !== undefined ? `d=${p.distance.toFixed(3)}` : `#${p.id}`)));
    card.addEventListener("click", () => pivot(p.id, p.title));
    grid.append(card);
  }
  if (!results.length) grid.append(el("p", { class: "muted" }, "Nothing found."));
  $("similar-card").hidden = false;
}

async function pivot(id, title) {
  setStatus(`Finding products like ${title}…`);
  try {
    const out = await api(`/similar/${encodeURIComponent(id)}?k=12`);
    current = { file: null, productId: id };
    $("preview").src = `/images/${encodeURIComponent(id)}?size=medium`;
    $("preview").hidden = false;
    showProducts(`Similar to ${title}`, out.results);
    $("describe-card").hidden = false;
    setStatus("");
  } catch (e) { setStatus(e.message); }
}

async function analyse(file) {
  current = { file, productId: null };
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  $("description").textContent = "";
  $("removed").textContent = "";
  setStatus("Tagging…");
  const form = () => { const f = new FormData(); f.append("image", file); return f; };
  try {
    const [tags, similar] = await Promise.all([
      api("/tag?k=10", { method: "POST", body: form() }),
      api("/similar?k=12", { method: "POST", body: form() }),
    ]);
    showTags(tags);
    showProducts("Similar products", similar.results);
    $("describe-card").hidden = false;
    setStatus("");
  } catch (e) { setStatus(e.message); }
}

// Progress while a description is written: what the server is doing and for how long
// (a language model's first load takes tens of seconds; the default edit, milliseconds).
async function describeProgress(started) {
  const seconds = Math.round((Date.now() - started) / 1000);
  let stage = "Writing";
  try {
    const st = await api("/describe/status");
    if (st.state === "loading") stage = "Loading the description model";
  } catch (e) { /* the answer itself will say what went wrong */ }
  return seconds ? `${stage}… ${seconds} s` : `${stage}…`;
}

async function describe() {
  const f = new FormData();
  if (current.file) f.append("image", current.file);
  else if (current.productId) f.append("product_id", current.productId);
  else return;
  f.append("length", $("length").value);
  f.append("tone", $("tone").value);
  const started = Date.now();
  $("description").textContent = "Writing…";
  $("removed").textContent = "";
  $("regenerate").disabled = true;
  let waiting = true;
  const timer = setInterval(async () => {
    const text = await describeProgress(started);
    if (waiting) $("description").textContent = text;
  }, 1000);
  try {
    const out = await api("/describe", { method: "POST", body: f });
    $("description").textContent = out.text;
    const removed = out.unsupported_claims.map((c) => `${c.text} (${c.category})`);
    $("removed").textContent = removed.length ? `Removed unsupported: ${removed.join(", ")}` : "";
    $("regenerate").textContent = "Regenerate";
  } catch (e) { $("description").textContent = e.message; }
  finally {
    waiting = false;
    clearInterval(timer);
    $("regenerate").disabled = false;
  }
}

const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.add("over");
}));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.remove("over");
}));
drop.addEventListener("drop", (e) => { const f = e.dataTransfer.files[0]; if (f) analyse(f); });
$("pick").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) analyse(f); });
$("regenerate").addEventListener("click", describe);
$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("search-q").value.trim();
  if (!q) return;
  try {
    const out = await api(`/search?q=${encodeURIComponent(q)}&k=24`);
    showProducts(`Search: ${q}`, out.results);
  } catch (err) { setStatus(err.message); }
});
