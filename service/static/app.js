// The Shelfsight page: one photo (or a catalogue product) in, tags + colours + shape +
// similar products + a description out; a batch view to tag many photos, review and
// correct them, download them or add them to the catalogue. Plain DOM, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const MAX_VOTERS = 6; // shown per tag; the rest are counted
const BATCH_CHUNK = 10; // photos per POST /tag/batch: progress every ~0.3 s on 2 cores
// What the result shows: an uploaded photo, a catalogue product, or a text search; the
// filters (the API's `where`) and the words refining it apply to whichever it is.
let view = { kind: null, file: null, productId: null, q: "", where: {}, refine: "" };
let facetsCache = null;

// -- talking to the API ---------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, detail, body) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body || {};
  }
}

async function api(url, options) {
  let res;
  try {
    res = await fetch(url, options);
  } catch (e) {
    throw new ApiError(0, "unreachable", "The Shelfsight server cannot be reached. Is it running?");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error, body.detail, body);
  return body;
}

// A person's words for each kind of failure; the server's detail says the specifics.
const ERROR_TITLES = {
  "upload too large": "That photo is too large",
  "request too large": "That upload is too large",
  "image too large": "That picture has too many pixels",
  "bad aspect ratio": "That does not look like a product photo",
  "not an image": "That file is not a picture Shelfsight can read",
  "unsupported media type": "That file is not a picture Shelfsight can read",
  "truncated image": "That photo is incomplete",
  "unreadable image": "That photo cannot be read",
  "empty image file": "That file is empty",
  "unknown filter": "That filter does not exist",
  "bad filter": "That filter does not exist",
  "not found": "Not found",
  "too many photos": "Too many photos at once",
  "unreachable": "No connection",
  "timed out": "That took too long",
  "out of domain": "This photo does not look like a catalogue product, so no description was written",
  "unauthorized": "The API key was not accepted",
  "forbidden": "Writing to the catalogue is off on this server",
};

function humanError(e) {
  const title = ERROR_TITLES[e.code] ||
    (e.status === 413 ? "That upload is too large" :
      e.status >= 500 ? "Something went wrong on the server" :
        e.status === 404 ? "Not found" : "That did not work");
  let detail = e.detail || e.message || "";
  if (e.status === 413 && !/MB/.test(detail)) detail = "Photos up to 15 MB are accepted.";
  return { title, detail };
}

function showError(e) {
  const { title, detail } = humanError(e);
  for (const id of ["tags-card", "describe-card", "similar-card"]) $(id).hidden = true;
  $("error-title").textContent = title;
  $("error-detail").textContent = detail;
  $("error-card").hidden = false;
  setStatus("");
  $("error-card").scrollIntoView({ block: "nearest" });
}

function clearError() { $("error-card").hidden = true; }
function setStatus(text) { $("status").textContent = text || ""; }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function whereParams(params) {
  for (const [family, values] of Object.entries(view.where)) {
    for (const v of values) params.append("where", `${family}=${v}`);
  }
  return params;
}

// Vectors are unit length: distance d = sqrt(2 - 2 cos), so cos = 1 - d^2 / 2.
function similarity(distance) {
  return Math.max(0, Math.min(1, 1 - (distance * distance) / 2));
}

// Where a tag came from, in words (the API's `source` codes: knn, +head, +colour, ...).
const SOURCE_WORDS = { knn: "similar products", head: "classifier", colour: "photo colour", shape: "outline", ocr: "printed text", text: "listing words", kind: "a kind the titles name" };
function sourceWords(source) {
  return source.split("+").map((s) => SOURCE_WORDS[s] || s).join(" + ");
}

// -- one photo --------------------------------------------------------------------------
function showMatch(match) {
  const banner = $("match-banner");
  banner.replaceChildren();
  banner.className = "banner";
  if (match && match.duplicate_of) {
    const link = el("button", { type: "button", class: "link", id: "duplicate-link" }, `#${match.duplicate_of}`);
    link.addEventListener("click", () => pivot(match.duplicate_of));
    banner.append("Already in the catalogue as ", link, ".");
    banner.classList.add("duplicate");
    banner.hidden = false;
  } else if (match && match.out_of_domain) {
    banner.append(el("strong", {}, "This does not look like anything in the catalogue. "),
      "Its nearest product is far from it, so these tags are guesses: check each one.");
    banner.classList.add("ood");
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

function voterList(family, value, neighbours) {
  const voters = neighbours.filter((n) => (n.tags || {})[family] === value);
  const box = el("div", { class: "voters" });
  if (!voters.length) {
    box.append(el("span", { class: "muted" }, "No similar product holds this value; it came from the photo."));
    return box;
  }
  box.append(el("span", { class: "muted" }, `Voted by ${voters.length} of ${neighbours.length} similar products${voters.length > MAX_VOTERS ? `, the closest ${MAX_VOTERS}` : ""}:`));
  for (const n of voters.slice(0, MAX_VOTERS)) {
    box.append(el("span", { class: "voter", title: n.title },
      el("img", { src: n.thumbnail, alt: "", loading: "lazy" }),
      `${Math.round(similarity(n.distance) * 100)}% · ${n.title}`));
  }
  return box;
}

// The one-photo view's corrections (family -> value) of an uploaded photo's tags.
let corrections = {};

// A field to correct a tag: its pick list is the runner-ups first, then the catalogue's
// values, commonest first; a value the catalogue lacks is allowed and marked new.
function fixField(family, tag) {
  const id = `pick-${family}`;
  const list = el("datalist", { id });
  const seen = new Set();
  const add = (v) => { if (v && !seen.has(v)) { seen.add(v); list.append(el("option", { value: v })); } };
  add(tag.value);
  for (const a of tag.alternatives || []) add(a.value);
  facets().then((fams) => {
    for (const [v] of Object.entries(fams[family] || {}).sort((a, b) => b[1] - a[1])) add(v);
  }).catch(() => {});
  const input = el("input", { class: "fix", value: tag.value, list: id, "aria-label": `Correct ${family}`, size: "12" });
  input.addEventListener("click", (e) => e.stopPropagation());
  input.addEventListener("input", () => {
    const v = input.value.trim();
    if (v && v !== tag.value) corrections[family] = v; else delete corrections[family];
    const known = (facetsCache || {})[family] || {};
    input.classList.toggle("new-value", Boolean(v) && !(v in known));
    input.classList.toggle("edited", family in corrections);
    $("save-one").disabled = false;
  });
  return [input, list];
}

function tagRow(family, tag, neighbours, editable = false) {
  const pct = Math.round(tag.score * 100);
  const bar = el("div", { class: "bar", title: `${pct}% confident` },
    el("span", { style: `width:${pct}%` }), el("em", {}, `${tag.value} · ${pct}%`));
  const li = el("li", { "data-family": family, tabindex: "0", class: tag.review ? "review" : "" },
    el("span", { class: "family" }, family), bar,
    el("span", { class: "source" }, sourceWords(tag.source), tag.review ? el("b", {}, " · check") : null));
  if (editable) li.append(...fixField(family, tag));
  const words = tag.evidence && tag.evidence.text || [];
  if (words.length) li.append(el("span", { class: "evidence" }, `from the words “${words.join("”, “")}”`));
  if (neighbours) {
    li.append(voterList(family, tag.value, neighbours));
    li.addEventListener("click", () => li.classList.toggle("open"));
  }
  return li;
}

let lastTags = {};

// The uploaded photo as a catalogue product, with the tags as corrected (the API key).
async function saveOne() {
  const key = $("one-key").value.trim() || $("api-key").value.trim();
  if (!key) { $("save-one-note").textContent = "Enter the server's API key to add the product."; return; }
  if (view.kind !== "upload") return;
  const tags = {};
  for (const [family, t] of Object.entries(lastTags)) {
    if (t.source !== "colour" && t.source !== "shape" && t.value) tags[family] = corrections[family] || t.value;
  }
  const id = $("one-id").value.trim() || idFrom(view.file.name);
  const title = $("listing-title").value.trim() || id;
  const f = new FormData();
  f.append("img0", view.file, view.file.name);
  f.append("listings", JSON.stringify([{ id, title, tags, image: "img0" }]));
  $("save-one").disabled = true;
  try {
    await api("/products", { method: "POST", body: f, headers: { "X-API-Key": key } });
    facetsCache = null; // a new value may now exist
    $("save-one-note").textContent = `Added #${id} to the catalogue with ${Object.keys(corrections).length} corrected tag(s).`;
  } catch (e) {
    const { title: t, detail } = humanError(e);
    const skipped = e.body && e.body.skipped && e.body.skipped[0];
    $("save-one-note").textContent = skipped ? `Not added: ${skipped.detail || skipped.reason}` : `${t}. ${detail}`;
    $("save-one").disabled = false;
  }
}

function showTags(result) {
  $("product-head").hidden = true;
  $("tags-title").hidden = false;
  $("tags-hint").hidden = false;
  showMatch(result.match);
  const list = $("tags");
  list.replaceChildren();
  const colours = result.colour && result.colour.palette || [];
  // One colour story: the catalogue's colour family (fused with the pixels, `+colour`)
  // is the answer; the palette explains it. The bare pixel `colour` row would be a
  // second, disagreeing answer, so it is not listed.
  let colourFamily = null;
  for (const [family, t] of Object.entries(result.tags)) {
    if (t.source.includes("colour") && t.source !== "colour") colourFamily = family;
    if (t.source === "colour" || t.source === "shape") continue;
    list.append(tagRow(family, t, result.neighbours || [], true));
  }
  corrections = {};
  lastTags = result.tags;
  $("save-one-box").hidden = false;
  $("save-one").disabled = false;
  $("save-one-note").textContent = "";
  const story = $("colour-story");
  const skin = result.colour && result.colour.skin_share > 0 ? " (backdrop and skin left out)" : " (backdrop left out)";
  if (colourFamily) {
    story.textContent = `${result.tags[colourFamily].value} (${colourFamily}): the photo's own colour as this catalogue names its colours, weighed with the similar products'. Its palette${skin}:`;
  } else {
    story.textContent = colours.length ? `The photo's own palette${skin}:` : "";
  }
  const sw = $("swatches");
  sw.replaceChildren();
  for (const s of colours) {
    sw.append(el("li", {}, el("i", { style: `background:${s.hex}` }), `${s.name} ${Math.round(s.share * 100)}%`));
  }
  $("colour-section").hidden = !colours.length;
  const shape = $("shape");
  shape.replaceChildren();
  for (const [name, value] of Object.entries((result.shape && result.shape.tags) || {})) {
    shape.append(el("li", {}, `${name}: ${value}`));
  }
  $("shape-section").hidden = !shape.children.length;
  $("tags-card").hidden = false;
}

function showProduct(product) {
  $("save-one-box").hidden = true; // a catalogue product's tags are its record
  $("product-head").hidden = false;
  $("product-title").textContent = product.title || `Product ${product.id}`;
  $("product-id").textContent = `#${product.id}`;
  $("match-banner").hidden = true;
  $("tags-title").hidden = true;
  $("tags-hint").hidden = true;
  const list = $("tags");
  list.replaceChildren();
  for (const [family, value] of Object.entries(product.tags)) {
    list.append(el("li", { "data-family": family, class: "stored" },
      el("span", { class: "family" }, family), el("span", { class: "value" }, value)));
  }
  // The photo's colours and outline were measured on an upload; a stored product has
  // its catalogue record instead, so those panels go.
  $("colour-section").hidden = true;
  $("shape-section").hidden = true;
  $("tags-card").hidden = false;
}

function resetDescription() {
  confirmed = {};
  forced = false;
  renderToConfirm([]);
  $("force-describe").hidden = true;
  $("description").textContent = "";
  $("removed").textContent = "";
  $("regenerate").textContent = "Write description";
  $("describe-card").hidden = false;
}

// -- result grid, facets and refinement -----------------------------------------------
function productCard(p) {
  const info = [p.title];
  let meta;
  if (p.distance !== undefined) {
    const pct = Math.round(similarity(p.distance) * 100);
    meta = el("span", { class: "sim", title: `distance ${p.distance.toFixed(3)}` },
      el("span", { class: "simbar" }, el("span", { style: `width:${pct}%` })), `${pct}% similar`);
  } else {
    meta = el("small", {}, `#${p.id}`);
  }
  // A link of its own (open it in a new tab, copy it); a plain click pivots in place.
  const card = el("a", { class: "product", href: `?product=${encodeURIComponent(p.id)}`, "data-id": p.id },
    el("img", { src: p.thumbnail, alt: p.title, loading: "lazy" }),
    el("div", {}, ...info, el("br"), meta));
  card.addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    pivot(p.id);
  });
  return card;
}

function showFacets(results, counted) {
  const active = $("active-filters");
  active.replaceChildren();
  for (const [family, values] of Object.entries(view.where)) {
    for (const v of values) {
      const chip = el("button", { type: "button", class: "chip active", "data-family": family, "data-value": v,
        title: "Remove this filter" }, `${family}: ${v} ✕`);
      chip.addEventListener("click", () => {
        view.where[family] = view.where[family].filter((x) => x !== v);
        if (!view.where[family].length) delete view.where[family];
        loadResults();
      });
      active.append(chip);
    }
  }
  // A search's counts cover every match (the server counts them); similar products have
  // no "all matches": their counts are of what is shown.
  let counts = counted;
  if (!counts || !Object.keys(counts).length) {
    counts = {};
    for (const p of results) {
      for (const [family, value] of Object.entries(p.tags || {})) {
        counts[family] = counts[family] || {};
        counts[family][value] = (counts[family][value] || 0) + 1;
      }
    }
  }
  const box = $("facets");
  box.replaceChildren();
  for (const [family, values] of Object.entries(counts)) {
    const entries = Object.entries(values).sort((a, b) => b[1] - a[1]);
    if (entries.length < 2 || view.where[family]) continue; // nothing to narrow
    const group = el("div", { class: "facet", "data-family": family }, el("span", { class: "family" }, family));
    for (const [value, n] of entries.slice(0, 6)) {
      const chip = el("button", { type: "button", class: "chip", "data-value": value }, `${value} (${n})`);
      chip.addEventListener("click", () => {
        view.where[family] = [value];
        loadResults();
      });
      group.append(chip);
    }
    box.append(group);
  }
}

function showProducts(title, results, note, counted) {
  $("similar-title").textContent = title;
  const grid = $("similar");
  grid.replaceChildren();
  for (const p of results) grid.append(productCard(p));
  if (!results.length) grid.append(el("p", { class: "muted" }, "Nothing found. Remove a filter or try other words."));
  $("refine-form").hidden = view.kind === "search";
  $("refine-note").textContent = note || "";
  showFacets(results, counted);
  $("similar-card").hidden = false;
}

async function loadResults(scroll = true) {
  const params = whereParams(new URLSearchParams());
  let out, title;
  try {
    if (view.kind === "search") {
      params.set("q", view.q);
      params.set("k", "24");
      out = await api(`/search?${params}`);
      title = `Search: ${view.q}`;
    } else {
      params.set("k", "12");
      if (view.refine) params.set("q", view.refine);
      if (view.kind === "product") {
        out = await api(`/similar/${encodeURIComponent(view.productId)}?${params}`);
        title = `Similar to #${view.productId}`;
      } else {
        const f = new FormData();
        f.append("image", view.file);
        out = await api(`/similar?${params}`, { method: "POST", body: f });
        title = "Similar products";
      }
      // The words named filters: the server says which; they show as removable chips.
      if (view.refine) {
        view.where = out.where || {};
        view.refine = "";
        $("refine-q").value = "";
      }
    }
  } catch (e) { showError(e); return false; }
  clearError();
  let note = out.ignored && out.ignored.length ? `Not understood, ignored: ${out.ignored.join(", ")}` : "";
  if (view.kind === "search") {
    // No product holds the words: say so, and that what follows is only near in meaning.
    if (!out.total) note = out.results.length
      ? `Nothing matched “${view.q}”. These are only the closest in meaning.`
      : `Nothing matched “${view.q}”.`;
    else title = `Search: ${view.q} (${out.total}${out.total >= 10000 ? "+" : ""} matching)`;
  }
  showProducts(title, out.results, note, view.kind === "search" ? out.facets : null);
  if (scroll) $("similar-card").scrollIntoView({ behavior: "smooth", block: "start" });
  return true;
}

// -- the address bar: a product or a search is a link, and Back returns to it ----------
function remember(params) {
  const url = params ? `?${new URLSearchParams(params)}` : location.pathname;
  if (`${location.search}` !== (params ? url : "")) history.pushState(params || {}, "", url);
}

async function fromAddress() {
  const params = new URLSearchParams(location.search);
  if (params.get("product")) await pivot(params.get("product"), false);
  else if (params.get("q")) runSearch(params.get("q"), false);
}
window.addEventListener("popstate", fromAddress);

async function pivot(id, push = true) {
  if (push) remember({ product: id });
  setStatus("Loading the product…");
  let product;
  try {
    product = await api(`/products/${encodeURIComponent(id)}`);
  } catch (e) { showError(e); return; }
  view = { kind: "product", file: null, productId: id, q: "", where: {}, refine: "" };
  $("preview").src = `/images/${encodeURIComponent(id)}?size=medium`;
  $("preview").hidden = false;
  showPhotos(product.photos || []);
  showProduct(product);
  resetDescription();
  const ok = await loadResults(false);
  setStatus("");
  if (ok) $("tags-card").scrollIntoView({ behavior: "smooth", block: "start" });
}

// A product's photos side by side under the big one; a click shows that one big.
function showPhotos(urls) {
  const strip = $("photo-strip");
  strip.replaceChildren();
  strip.hidden = urls.length < 2;
  urls.forEach((url, n) => {
    const img = document.createElement("img");
    img.src = url;
    img.alt = `photo ${n + 1} of ${urls.length}`;
    img.tabIndex = 0;
    const show = () => { $("preview").src = url; };
    img.addEventListener("click", show);
    img.addEventListener("keydown", (e) => { if (e.key === "Enter") show(); });
    strip.append(img);
  });
}

const MAX_PHOTOS = 8; // photos of one product per /tag request (the API's limit)

async function analyse(file, more = []) {
  remember(null); // a photo has no address: Back returns to what was shown before it
  more = more.slice(0, MAX_PHOTOS - 1);
  view = { kind: "upload", file, more, productId: null, q: "", where: {}, refine: "" };
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  showPhotos(more.length ? [file, ...more].map((f) => URL.createObjectURL(f)) : []);
  setStatus(more.length ? `Tagging ${more.length + 1} photos of one product…` : "Tagging…");
  // The first photo after a start loads the model: say so rather than a bare "Tagging…".
  api("/health").then((h) => {
    if (!h.model_loaded && view.file === file && $("status").textContent.startsWith("Tagging")) {
      setStatus("Loading the image model (the first photo after a start takes 10-20 s)… then tagging.");
    }
  }).catch(() => {});
  const form = () => { const f = new FormData(); f.append("image", file); return f; };
  // The listing's words go with the photo to /tag only: similar products are by photo.
  // Several photos are one product seen from several sides: /tag fuses them.
  const tagForm = () => {
    const f = form();
    for (const extra of more) f.append("image", extra);
    const title = $("listing-title").value.trim();
    if (title) f.append("title", title);
    return f;
  };
  try {
    const [tags, similar] = await Promise.all([
      api("/tag?k=10", { method: "POST", body: tagForm() }),
      api("/similar?k=12", { method: "POST", body: form() }),
    ]);
    clearError();
    showTags(tags);
    showProducts("Similar products", similar.results);
    resetDescription();
    setStatus("");
    $("tags-card").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (e) { showError(e); }
}

// -- description ------------------------------------------------------------------------
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

// Details a person confirmed from the description's "to confirm" list (slot -> value):
// sent back as facts, so the next description may state them.
let confirmed = {};
let forced = false;

function renderToConfirm(items) {
  const list = $("to-confirm");
  list.replaceChildren();
  for (const c of items || []) {
    const button = el("button", { type: "button", class: "confirm" }, "Confirm");
    button.addEventListener("click", () => { confirmed[c.slot] = c.value; describe(); });
    list.append(el("li", {},
      el("span", {}, `${c.slot}: ${c.value}`),
      el("span", { class: "muted" }, ` — ${c.agreement} of ${c.of} similar listings say “${c.text}”`),
      button));
  }
  $("to-confirm-card").hidden = !list.children.length;
}

async function describe() {
  const f = new FormData();
  if (view.kind === "upload") f.append("image", view.file);
  else if (view.kind === "product") f.append("product_id", view.productId);
  else return;
  f.append("length", $("length").value);
  f.append("tone", $("tone").value);
  const details = Object.entries(confirmed).map(([k, v]) => `${k}=${v}`);
  if (details.length) f.append("details", details.join("\n"));
  if (forced) f.append("force", "true");
  const started = Date.now();
  $("description").textContent = "Writing…";
  $("removed").textContent = "";
  $("length-note").textContent = "";
  $("force-describe").hidden = true;
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
    $("length-note").textContent = out.length_note || "";
    renderToConfirm(out.to_confirm);
  } catch (e) {
    const { title, detail } = humanError(e);
    // An out-of-domain photo: the reason, and a button (not a CLI flag) to go ahead.
    $("description").textContent = e.code === "out of domain"
      ? "This photo does not look like anything in the catalogue, so a description would " +
        "borrow facts from unrelated products."
      : `${title}. ${detail}`;
    $("force-describe").hidden = e.code !== "out of domain";
    renderToConfirm([]);
  } finally {
    waiting = false;
    clearInterval(timer);
    $("regenerate").disabled = false;
  }
}

// -- batch ------------------------------------------------------------------------------
let batchRows = []; // {file, name, id, title, status, note, tags: {family: tag}}

async function facets() {
  if (!facetsCache) facetsCache = (await api("/facets")).families;
  return facetsCache;
}

function idFrom(name) {
  const stem = name.replace(/\.[^.]+$/, "");
  return stem.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64) || "product";
}

function batchFamilies(fams) { return Object.keys(fams); }

async function runBatch(files) {
  files = [...files].filter((f) => f.size !== undefined);
  if (!files.length) return;
  let fams;
  try { fams = await facets(); } catch (e) { $("batch-status").textContent = humanError(e).title; return; }
  ensureDatalists(fams);
  batchRows = [];
  lastCell = null;
  $("batch-fill").disabled = true;
  $("batch-review-only").checked = false;
  $("batch-saved").textContent = "";
  renderBatchHead(fams);
  $("batch-table").tBodies[0].replaceChildren();
  $("batch-card").hidden = false;
  for (let i = 0; i < files.length; i += BATCH_CHUNK) {
    $("batch-status").textContent = `Tagging ${Math.min(i + BATCH_CHUNK, files.length)} of ${files.length}…`;
    const chunk = files.slice(i, i + BATCH_CHUNK);
    const f = new FormData();
    for (const file of chunk) f.append("images", file, file.name);
    let items;
    try {
      const out = await api("/tag/batch?k=10", { method: "POST", body: f });
      items = out.items;
      batchColumns = out.columns;
    } catch (e) {
      const { title, detail } = humanError(e);
      items = chunk.map((file) => ({ name: file.name, skipped: { reason: title, detail } }));
    }
    items.forEach((item, n) => addBatchRow(chunk[n], item, fams));
  }
  const skipped = batchRows.filter((r) => r.status === "skipped").length;
  $("batch-status").textContent = `Tagged ${batchRows.length - skipped} of ${files.length} photos` +
    (skipped ? `; ${skipped} skipped (see the status column).` : ".");
}

function ensureDatalists(fams) {
  const box = $("datalists");
  if (box.children.length) return;
  for (const [family, values] of Object.entries(fams)) {
    const dl = el("datalist", { id: `values-${family}` });
    for (const v of Object.keys(values)) dl.append(el("option", { value: v }));
    box.append(dl);
  }
}

function renderBatchHead(fams) {
  const head = el("tr", {}, el("th", {}, "Photo"), el("th", {}, "Id"), el("th", {}, "Title"), el("th", {}, "Status"));
  for (const family of batchFamilies(fams)) head.append(el("th", {}, family));
  $("batch-table").tHead.replaceChildren(head);
}

function addBatchRow(file, item, fams) {
  const row = { file, name: item.name, id: idFrom(item.name), title: "", tags: {}, status: "tagged", note: "" };
  if (item.skipped) {
    row.status = "skipped";
    row.note = `${ERROR_TITLES[item.skipped.reason] || item.skipped.reason}${item.skipped.detail ? ": " + item.skipped.detail : ""}`;
  } else {
    const m = item.result.match || {};
    if (m.duplicate_of) { row.status = "duplicate"; row.note = `already in the catalogue as #${m.duplicate_of}`; }
    else if (m.out_of_domain) { row.status = "unlike the catalogue"; row.note = "check every tag"; }
    for (const [family, t] of Object.entries(item.result.tags)) {
      row.tags[family] = { value: t.value, tagged: t.value, score: t.score, source: t.source, review: t.review };
    }
    row.result = item.result;
  }
  batchRows.push(row);
  const n = batchRows.length - 1;
  const tr = el("tr", { "data-name": item.name, class: row.status === "tagged" ? "" : "flag" });
  // Rows a person should look at: a tag flagged for review, or the photo itself flagged.
  tr.dataset.check = String(row.status !== "tagged" || Object.values(row.tags).some((t) => t.review));
  const thumb = el("img", { alt: `${item.name}: click to zoom`, src: URL.createObjectURL(file) });
  thumb.addEventListener("click", () => { $("zoom-img").src = thumb.src; $("zoom").showModal(); });
  const idInput = el("input", { value: row.id, "aria-label": "Id", class: "id", size: "10" });
  idInput.addEventListener("input", () => { batchRows[n].id = idInput.value.trim(); });
  const titleInput = el("input", { value: "", "aria-label": "Title", class: "title", size: "14" });
  titleInput.addEventListener("input", () => { batchRows[n].title = titleInput.value.trim(); });
  // A title typed for a tagged photo is more evidence: the row is tagged again with it.
  titleInput.addEventListener("change", () => { if (row.status !== "skipped") retagRow(n, tr, fams); });
  tr.append(el("td", {}, thumb), el("td", {}, idInput), el("td", {}, titleInput),
    el("td", { class: "status" }, row.status, row.note ? el("small", {}, row.note) : null));
  for (const family of batchFamilies(fams)) tr.append(tagCell(row, family));
  $("batch-table").tBodies[0].append(tr);
}

// The cell edited last: what "Fill down" copies to the rows below it.
let lastCell = null;

// A value the catalogue does not hold yet is allowed (a new kind, a new colour) but marked.
function markNew(td, family, value) {
  const known = (facetsCache || {})[family] || {};
  const isNew = Boolean(value) && !(value in known);
  td.classList.toggle("new-value", isNew);
  td.title = isNew ? `"${value}" is not a ${family} of this catalogue yet: it would be a new value` : "";
}

function setCell(td, row, family, value) {
  const t = row.tags[family];
  if (!t) return;
  t.value = value;
  const input = td.querySelector("input");
  if (input && input.value !== value) input.value = value;
  td.classList.toggle("edited", t.value !== t.tagged);
  markNew(td, family, t.value);
}

function tagCell(row, family) {
  const t = row.tags[family];
  const td = el("td", { "data-family": family, class: t && t.review ? "review" : "" });
  if (t) {
    const input = el("input", { value: t.value, list: `values-${family}`, "aria-label": family, size: "10" });
    td.classList.toggle("edited", t.value !== t.tagged);
    markNew(td, family, t.value);
    input.addEventListener("input", () => {
      setCell(td, row, family, input.value.trim());
      lastCell = { row, family };
      $("batch-fill").disabled = false;
    });
    td.append(input, el("small", { title: sourceWords(t.source) }, `${Math.round(t.score * 100)}%`));
  }
  return td;
}

async function retagRow(n, tr, fams) {
  const row = batchRows[n];
  const f = new FormData();
  f.append("image", row.file, row.name);
  if (row.title) f.append("title", row.title);
  tr.classList.add("busy");
  let result;
  try {
    result = await api("/tag?k=10", { method: "POST", body: f });
  } catch (e) {
    const { title, detail } = humanError(e);
    $("batch-status").textContent = `${row.name}: ${title}. ${detail}`;
    tr.classList.remove("busy");
    return;
  }
  for (const [family, t] of Object.entries(result.tags)) {
    const had = row.tags[family];
    // A value the person corrected stays theirs; the machine's answer beside it is new.
    const edited = had && had.value !== had.tagged;
    row.tags[family] = { value: edited ? had.value : t.value, tagged: t.value, score: t.score, source: t.source, review: t.review };
  }
  for (const family of batchFamilies(fams)) {
    tr.querySelector(`td[data-family="${CSS.escape(family)}"]`).replaceWith(tagCell(row, family));
  }
  tr.classList.remove("busy");
  tr.dataset.retagged = row.title ? "title" : "photo";
}

function csvCell(v) {
  let s = v === undefined || v === null ? "" : String(v);
  // A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's
  // CSV-injection rule): file names and catalogue values come from outside.
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// The download has `tag-batch`'s columns (the server sends its header): one table for
// both. A value a person changed here says so in its source ("person") and is no longer
// flagged for review.
let batchColumns = [];

function batchCell(r, col) {
  const res = r.result || {};
  const m = res.match || {};
  const fixed = { name: r.id, path: "", status: r.status === "skipped" ? "skipped" : "tagged",
    reason: r.status === "skipped" ? r.note : "", title: r.title,
    out_of_domain: res.match ? Number(m.out_of_domain) : "", nearest_distance: m.nearest_distance,
    duplicate_of: m.duplicate_of || "",
    palette: ((res.colour && res.colour.palette) || []).map((s) => `${s.name} ${Math.round(s.share * 100)}%`).join("; "),
    text: ((res.ocr && res.ocr.lines) || []).map((l) => l.text).join(" | ") };
  if (col in fixed) return fixed[col];
  const [family, part] = col.includes("_") && r.tags[col.slice(0, col.lastIndexOf("_"))]
    ? [col.slice(0, col.lastIndexOf("_")), col.slice(col.lastIndexOf("_") + 1)] : [col, "value"];
  const t = r.tags[family];
  if (!t) return "";
  const changed = t.value !== t.tagged;
  if (part === "value") return t.value;
  if (part === "score") return t.score;
  if (part === "source") return changed ? "person" : t.source;
  if (part === "review") return changed ? 0 : Number(Boolean(t.review));
  return "";
}

function batchCsv() {
  const lines = [batchColumns.map(csvCell).join(",")];
  for (const r of batchRows) lines.push(batchColumns.map((c) => csvCell(batchCell(r, c))).join(","));
  return lines.join("\r\n") + "\r\n";
}

function downloadCsv() {
  const blob = new Blob([batchCsv()], { type: "text/csv" });
  const a = el("a", { href: URL.createObjectURL(blob), download: "shelfsight-tags.csv" });
  document.body.append(a);
  a.click();
  a.remove();
}

async function saveBatch() {
  const key = $("api-key").value.trim();
  const rows = batchRows.filter((r) => r.status !== "skipped");
  if (!key) { $("batch-saved").textContent = "Enter the server's API key to add products."; return; }
  let added = 0;
  const problems = [];
  for (let i = 0; i < rows.length; i += BATCH_CHUNK) {
    const chunk = rows.slice(i, i + BATCH_CHUNK);
    const f = new FormData();
    const listings = chunk.map((r, n) => {
      const tags = {};
      for (const [family, t] of Object.entries(r.tags)) {
        if (t.source !== "colour" && t.source !== "shape" && t.value) tags[family] = t.value;
      }
      f.append(`img${n}`, r.file, r.file.name);
      return { id: r.id, title: r.title || r.id, tags, image: `img${n}` };
    });
    f.append("listings", JSON.stringify(listings));
    $("batch-saved").textContent = `Adding ${Math.min(i + BATCH_CHUNK, rows.length)} of ${rows.length}…`;
    let out;
    try {
      out = await api("/products", { method: "POST", body: f, headers: { "X-API-Key": key } });
    } catch (e) {
      const { title, detail } = humanError(e);
      if (e.status === 401 || e.status === 403) { $("batch-saved").textContent = `${title}: ${detail}`; return; }
      // 422: nothing in this chunk was written, and the body says why for each listing.
      out = e.status === 422 && e.body.skipped ? e.body : { results: [], skipped: [{ id: chunk.map((r) => r.id).join(", "), detail: `${title}. ${detail}` }] };
    }
    added += out.results.length;
    for (const s of out.skipped) problems.push(`${s.id}: ${s.detail || s.reason}`);
  }
  facetsCache = null; // new values may now exist
  $("batch-saved").textContent = `Added ${added} product${added === 1 ? "" : "s"} to the catalogue.` +
    (problems.length ? ` Not added: ${problems.join("; ")}` : "");
}

// The tagged photos sent to the review inbox (tagged again there, kept with what the
// server suggests), a chunk per request.
async function keepBatch() {
  const key = $("api-key").value.trim() || $("inbox-key").value.trim();
  const rows = batchRows.filter((r) => r.status !== "skipped");
  if (!key) { $("batch-saved").textContent = "Enter the server's API key to send photos to review."; return; }
  let kept = 0;
  // A row with a title goes with its words (POST /tag, one photo); the rest in chunks.
  const titled = rows.filter((r) => r.title);
  const plain = rows.filter((r) => !r.title);
  const headers = { "X-API-Key": key };
  const requests = [
    ...titled.map((r) => () => {
      const f = new FormData();
      f.append("image", r.file, r.file.name);
      f.append("title", r.title);
      return api("/tag?keep=true", { method: "POST", body: f, headers }).then((out) => (out.review_item != null ? 1 : 0));
    }),
  ];
  for (let i = 0; i < plain.length; i += BATCH_CHUNK) {
    const f = new FormData();
    for (const r of plain.slice(i, i + BATCH_CHUNK)) f.append("images", r.file, r.file.name);
    requests.push(() => api("/tag/batch?keep=true", { method: "POST", body: f, headers })
      .then((out) => out.items.filter((it) => it.result && it.result.review_item != null).length));
  }
  for (const send of requests) {
    $("batch-saved").textContent = `Sending ${kept} of ${rows.length}…`;
    try {
      kept += await send();
    } catch (e) {
      const { title, detail } = humanError(e);
      $("batch-saved").textContent = `${title}: ${detail}`;
      return;
    }
  }
  $("inbox-key").value = $("inbox-key").value || key;
  $("batch-saved").textContent = `Sent ${kept} photo${kept === 1 ? "" : "s"} to the review inbox.`;
}

// -- wiring -----------------------------------------------------------------------------
function dropZone(zone, onFiles) {
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => {
    e.preventDefault(); zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => {
    e.preventDefault(); zone.classList.remove("over");
  }));
  zone.addEventListener("drop", (e) => onFiles(e.dataTransfer.files));
}

const VIEWS = { one: "one-view", batch: "batch-view", inbox: "inbox-view" };
function showView(name) {
  if (name === true) name = "batch";
  if (name === false) name = "one";
  for (const [key, id] of Object.entries(VIEWS)) {
    $(id).hidden = key !== name;
    $(`tab-${key}`).setAttribute("aria-pressed", String(key === name));
  }
  document.dispatchEvent(new CustomEvent("shelfsight:view", { detail: name }));
}

dropZone($("drop"), (files) => { if (files[0]) analyse(files[0], [...files].slice(1)); });
dropZone($("batch-drop"), (files) => runBatch(files));
$("pick").addEventListener("click", () => $("file").click());
// A title typed after the photo: tag the same photo again with it.
$("listing-title").addEventListener("change", () => { if (view.kind === "upload" && view.file) analyse(view.file, view.more || []); });
$("file").addEventListener("change", (e) => { const fs = [...e.target.files]; if (fs[0]) analyse(fs[0], fs.slice(1)); });
$("batch-pick").addEventListener("click", () => $("batch-file").click());
$("batch-file").addEventListener("change", (e) => runBatch(e.target.files));
$("batch-csv").addEventListener("click", downloadCsv);
function filterBatch() {
  const only = $("batch-review-only").checked;
  for (const tr of $("batch-table").tBodies[0].rows) tr.hidden = only && tr.dataset.check !== "true";
}
$("batch-review-only").addEventListener("change", filterBatch);
$("batch-fill").addEventListener("click", () => {
  if (!lastCell) return;
  const { row, family } = lastCell;
  const value = row.tags[family].value;
  const rows = [...$("batch-table").tBodies[0].rows];
  const from = batchRows.indexOf(row);
  rows.forEach((tr, n) => {
    if (n <= from || tr.hidden || !batchRows[n].tags[family]) return;
    setCell(tr.querySelector(`td[data-family="${CSS.escape(family)}"]`), batchRows[n], family, value);
  });
});
$("batch-save").addEventListener("click", saveBatch);
$("batch-keep").addEventListener("click", keepBatch);
$("tab-one").addEventListener("click", () => showView("one"));
$("tab-batch").addEventListener("click", () => showView("batch"));
$("tab-inbox").addEventListener("click", () => showView("inbox"));
$("regenerate").addEventListener("click", describe);
$("save-one").addEventListener("click", saveOne);
$("force-describe").addEventListener("click", () => { forced = true; describe(); });
$("refine-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const words = $("refine-q").value.trim();
  if (!words || !view.kind || view.kind === "search") return;
  view.refine = words;
  loadResults();
});
function runSearch(q, push = true) {
  if (push) remember({ q });
  $("search-q").value = q;
  showView(false);
  view = { kind: "search", file: null, productId: null, q, where: {}, refine: "" };
  for (const id of ["tags-card", "describe-card"]) $(id).hidden = true;
  loadResults();
}
$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("search-q").value.trim();
  if (q) runSearch(q);
});
fromAddress();
