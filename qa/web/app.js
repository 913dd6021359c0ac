// The chat page. No build step, no framework.
// Rule: text from the server (answers, document text, titles, ids) reaches the page only as text
// nodes: through textContent, or through QAMarkdown.render (markdown.js), which builds elements and
// text nodes and never parses HTML. The page's CSP enforces Trusted Types, so an HTML sink would throw.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_TURNS = 50; // kept in storage (the oldest go first)
const PAGE_SIZE = 20; // documents per page of the panel
const SEARCH_PAGES = 20; // a search reads at most this many pages of 1,000 documents
const MAX_FORMATTED = 1_000_000; // longer documents are shown as plain text (rendering time)
const GAP = 8; // px kept between the newest answer and the question box

let records = []; // the conversation: [{question, ...the answer's fields}], see newRecord
let busy = false;
let lastTrigger = null; // the control that opened the viewer, focused again when it closes
let viewerState = null; // {doc, span}: what the viewer shows, to redraw it in the other mode
let formatted = true; // the viewer's mode: Markdown rendered, or the plain text

/** Make an element; string children become text nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const plural = (n, word) => `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;

/** The collection named in the page's address, `?collection=hr` (null: the default). */
const collectionInAddress = () => new URLSearchParams(location.search).get("collection") || null;
/** The collection this page works on (null: the default); the picker changes it. */
let collection = collectionInAddress();
let defaultName = null; // the default collection's name, once GET /v1/collections has said it
let shown = 0; // bumped at each switch: an answer for the collection shown before is dropped

// localStorage: the conversation, kept across reloads; one per collection (another collection's
// citations point at documents this one does not hold).
const storeKey = () => (collection ? `qa-chat:${collection}` : "qa-chat");

/** An API URL with the page's collection, if it has one. */
function inCollection(url) {
  if (!collection) return url;
  return url + (url.includes("?") ? "&" : "?") + "collection=" + encodeURIComponent(collection);
}

/** /v1/documents/{id}: ids may hold slashes (the route takes a path), each segment encoded. */
function documentUrl(id) {
  return inCollection("/v1/documents/" + id.split("/").map(encodeURIComponent).join("/"));
}

function apiKey() {
  return $("api-key").value.trim();
}

/** Headers for a request to this server, with the API key when one was given. */
function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

function messageOf(body, status, statusText) {
  if (body && typeof body.message === "string") return body.message;
  if (body && body.error && typeof body.error.message === "string") return body.error.message;
  return `${status} ${statusText}`.trim();
}

async function errorMessage(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) { /* not JSON */ }
  return messageOf(body, response.status, response.statusText);
}

// -- Markdown with citation markers ---------------------------------------------------------------

/** A table of inline tokens for QAMarkdown: each is one private-use character in the source. */
function tokenTable() {
  const items = [];
  return {
    add(item) {
      items.push(item);
      return String.fromCharCode(QAMarkdown.TOKEN_BASE + items.length - 1);
    },
    get: (code) => items[code - QAMarkdown.TOKEN_BASE] || null,
  };
}

// A sentence's block prefix (a heading's #s, a list marker, a quote's >, a fence): the sentence's
// wrapper opens after it, so the line still starts the block it starts.
const BLOCK_PREFIX = /^(?:[ \t]*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d{1,9}[.)][ \t]+|>[ \t]?|`{3,}|~{3,}))*/;

/** One sentence as Markdown source: its wrapper's tokens around its text, then its markers. */
function sentenceSource(tokens, text, wrap, cites) {
  const clean = QAMarkdown.untokened(text);
  const prefix = BLOCK_PREFIX.exec(clean)[0];
  let src = prefix + tokens.add({ open: wrap }) + clean.slice(prefix.length) + tokens.add({ close: true });
  for (const c of cites) src += " " + tokens.add({ node: citationButton(c) });
  return src;
}

function sentenceWrapper() {
  return el("span", { class: "sentence" });
}

function unsupportedWrapper(first) {
  return el("span", { class: "unsupported", "aria-describedby": "unsupported-help" },
    first ? el("span", { class: "flag" }, "unsupported") : null, first ? " " : null);
}

/** The separator after each sentence, as the draft had it: a generated answer's sentences come back
 * without the line breaks between them, which its Markdown (lists, code) needs. Layout only. */
function separators(sentences, draft) {
  let at = 0;
  const places = sentences.map((s) => {
    const found = draft.indexOf(s.text, at);
    if (found >= 0) at = found + s.text.length;
    return found;
  });
  return sentences.map((s, i) => {
    const a = places[i];
    const b = i + 1 < places.length ? places[i + 1] : -1;
    if (a < 0 || b < 0) return " ";
    const between = draft.slice(a + s.text.length, b);
    return between.includes("\n\n") ? "\n\n" : between.includes("\n") ? "\n" : " ";
  });
}

/** A generated answer as checked by the server, sentence by sentence: each kept citation is a
 * marker right after its sentence; a sentence whose citations the check dropped (`supported:
 * false`) is marked "unsupported". */
function renderChecked(rec) {
  const byNumber = new Map((rec.citations || []).map((c) => [c.n, c]));
  const tokens = tokenTable();
  const seps = separators(rec.sentences, rec.draft || "");
  let src = "";
  rec.sentences.forEach((s, i) => {
    const wrap = s.supported === false ? unsupportedWrapper : sentenceWrapper;
    const cites = s.citations.filter((n) => byNumber.has(n)).map((n) => byNumber.get(n));
    src += sentenceSource(tokens, s.text, wrap, cites) + (i + 1 < rec.sentences.length ? seps[i] : "");
  });
  return QAMarkdown.render(src, { tokens: true, token: tokens.get });
}

/** An extractive answer (a sentence of a document) with its markers right after it. */
function renderExtractive(rec) {
  const tokens = tokenTable();
  return QAMarkdown.render(sentenceSource(tokens, rec.text, sentenceWrapper, rec.citations || []),
    { tokens: true, token: tokens.get });
}

function citationButton(c) {
  const page = c.page == null ? "" : `, page ${c.page}`;
  const label = `Source ${c.n}: ${c.title || c.doc_id}${page}`;
  return el("button", {
    type: "button", class: "cite", "aria-label": label, title: label,
    onclick: (event) => openCitation(c, event.currentTarget),
  }, `[${c.n}]`);
}

/** Source cards: per citation its title, page and the quoted characters; a click opens the viewer
 * with exactly those characters highlighted. */
function sourceCards(citations) {
  const list = el("ol", { class: "cards" });
  for (const c of citations) {
    list.append(el("li", { class: "card" },
      el("button", { type: "button", class: "card-open", onclick: (e) => openCitation(c, e.currentTarget) },
        el("span", { class: "card-n" }, String(c.n)), " ",
        el("span", { class: "card-title" }, c.title || c.doc_id),
        c.page == null ? null : el("span", { class: "card-page" }, ` · page ${c.page}`)),
      el("span", { class: "meta card-meta" }, c.doc_id),
      el("blockquote", { class: "card-quote" }, c.quote)));
  }
  return el("section", { class: "sources-cards", "aria-label": "Sources" }, list);
}

function passagesDetails(passages) {
  const list = el("ol", { class: "passages" });
  for (const p of passages) {
    list.append(el("li", {},
      el("span", { class: "passage-title" }, p.title || p.doc_id),
      el("span", { class: "meta" }, ` ${p.doc_id}${p.page == null ? "" : ` · page ${p.page}`} · score ${p.score.toFixed(2)}`),
      el("p", { class: "passage-text" }, p.text)));
  }
  return el("details", { class: "sources" }, el("summary", {}, `Passages searched (${passages.length})`), list);
}

// -- conversation -------------------------------------------------------------------------------

function newRecord(question) {
  return {
    question, query: null, rewritten: false, passages: null, draft: "", text: null, generated: false,
    sentences: null, citations: null, short: null, note: null, error: null, done: false,
  };
}

/** The messages sent with every question: the answered turns. */
function conversation() {
  const messages = [];
  for (const r of records) {
    if (!r.done || r.error !== null) continue;
    messages.push({ role: "user", content: r.question }, { role: "assistant", content: r.text || "" });
  }
  return messages;
}

function save() {
  const keep = records.slice(-MAX_TURNS).filter((r) => r.done);
  for (let drop = 0; drop <= keep.length; drop++) {
    // Over the storage quota: first without the passages searched, then without the oldest turns.
    const items = drop === 0 ? keep : keep.slice(drop - 1).map((r) => ({ ...r, passages: null }));
    try {
      if (items.length) localStorage.setItem(storeKey(), JSON.stringify({ version: 1, records: items }));
      else localStorage.removeItem(storeKey());
      return;
    } catch (_) { /* quota: try with less */ }
  }
}

function restore() {
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(storeKey()) || "null");
  } catch (_) { /* unreadable: start afresh */ }
  if (!stored || stored.version !== 1 || !Array.isArray(stored.records)) return;
  records = stored.records.filter((r) => r && typeof r.question === "string");
  for (const r of records) {
    const { view } = addTurn(r);
    update(view, r);
  }
  if (records.length) {
    $("empty").hidden = true;
    const items = $("log").children;
    reveal(items[items.length - 2], items[items.length - 1]);
  }
}

/** Add a question and its (empty) answer to the log; returns the answer's parts. */
function addTurn(rec) {
  $("empty").hidden = true;
  const user = el("li", { class: "turn user" }, el("span", { class: "who" }, "You"), el("p", { class: "text" }, rec.question));
  const view = {
    status: el("p", { class: "status" }, "Searching…"),
    short: el("p", { class: "short", hidden: true }),
    answer: el("div", { class: "text answer" }),
    note: el("p", { class: "note", hidden: true }),
    cards: el("div", { class: "cards-slot" }),
    passages: el("div", { class: "passages-slot" }),
  };
  view.item = el("li", { class: "turn assistant", "aria-busy": "true" },
    el("span", { class: "who" }, "qa"), view.status, view.short, view.answer, view.note, view.cards, view.passages);
  $("log").append(user, view.item);
  return { user, view };
}

/** Show a record in its view: what has arrived so far, or all of it. */
function update(view, rec) {
  view.item.setAttribute("aria-busy", rec.done ? "false" : "true");
  const status = view.status;
  status.className = "status";
  if (rec.error !== null) {
    status.className = "status error";
    status.textContent = `Error: ${rec.error}`;
  } else if (rec.rewritten) {
    status.textContent = `Searched for: ${rec.query}`;
  } else {
    status.textContent = rec.passages ? "" : "Searching…";
  }
  status.hidden = !status.textContent;

  if (rec.sentences && rec.text !== null) {
    view.answer.classList.remove("draft");
    view.answer.replaceChildren(renderChecked(rec));
  } else if (rec.text !== null && (rec.done || rec.citations)) {
    view.answer.classList.remove("draft");
    view.answer.replaceChildren(renderExtractive(rec));
  } else if (rec.draft && rec.error === null) {
    // A draft until the stream ends: a generated answer's text before its check.
    view.answer.classList.add("draft");
    view.answer.replaceChildren(QAMarkdown.render(QAMarkdown.untokened(rec.draft)));
  } else {
    view.answer.replaceChildren(); // an answer never checked is not shown
  }

  if (rec.short) {
    view.short.replaceChildren("Short answer: ", el("strong", {}, rec.short.text));
    view.short.hidden = false;
  } else {
    view.short.hidden = true;
  }
  view.note.hidden = !rec.note;
  view.note.textContent = rec.note ? `Note: ${rec.note}` : "";
  view.cards.replaceChildren(...(rec.citations && rec.citations.length ? [sourceCards(rec.citations)] : []));
  if (rec.passages && !view.passages.firstChild) view.passages.append(passagesDetails(rec.passages));
}

/** Bring the newest answer into view above the sticky question box: all of the question and its
 * answer when they fit, else the question at the top and as much of the answer as fits. */
function reveal(user, item) {
  if (!user || !item) return;
  const box = $("ask");
  const visible = window.innerHeight - box.offsetHeight; // the box sticks to the bottom
  const top = user.getBoundingClientRect().top;
  const bottom = item.getBoundingClientRect().bottom;
  if (bottom - top + 2 * GAP <= visible) {
    if (bottom > visible - GAP || top < 0) window.scrollBy({ top: bottom - (visible - GAP), behavior: "instant" });
  } else {
    window.scrollBy({ top: top - GAP, behavior: "instant" });
  }
}

/** Read a server-sent event stream from a fetch response; calls onEvent(name, data). */
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

async function ask(question) {
  if (busy) return;
  busy = true;
  $("send").disabled = true;
  $("new-chat").disabled = true;
  $("collection-select").disabled = true; // the answer belongs to this collection's conversation
  const messages = [...conversation(), { role: "user", content: question }];
  const rec = newRecord(question);
  records.push(rec);
  const { user, view } = addTurn(rec);
  reveal(user, view.item);
  let frame = 0;
  const redraw = () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; update(view, rec); });
  };
  try {
    const response = await fetch(inCollection("/v1/chat"), {
      method: "POST",
      headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
      body: JSON.stringify({ messages, stream: true }),
    });
    if (!response.ok) {
      rec.error = await errorMessage(response);
    } else {
      await readEvents(response, (name, data) => {
        if (name === "passages") {
          rec.query = data.query;
          rec.rewritten = Boolean(data.rewritten);
          rec.passages = data.passages;
        } else if (name === "delta") {
          rec.draft += data.text;
        } else if (name === "answer") {
          // The checked answer (generated, or the extractive one if generation failed) replaces
          // the draft, so no sentence or marker the check took out stays on screen.
          rec.text = data.text;
          rec.generated = Boolean(data.generated);
          rec.sentences = data.generated && data.sentences ? data.sentences : null;
          rec.note = data.note || null;
        } else if (name === "citations") {
          rec.citations = data.citations;
          if (rec.text === null) rec.text = rec.draft; // extractive: the deltas are the answer
        } else if (name === "done") {
          rec.short = data.short_answer || null;
          rec.note = data.note || rec.note;
          if (rec.text === null) rec.text = rec.draft;
        } else if (name === "error") {
          rec.error = data.message;
        }
        redraw();
      });
      if (rec.error === null && rec.text === null) rec.error = "the answer stopped before it was complete";
    }
  } catch (err) {
    rec.error = `the request failed (${err.message}); is the server running?`;
  }
  if (frame) cancelAnimationFrame(frame);
  rec.done = true;
  update(view, rec);
  save();
  busy = false;
  $("send").disabled = false;
  $("new-chat").disabled = false;
  $("collection-select").disabled = false;
  reveal(user, view.item);
  followAddress(); // Back or Forward was pressed during the answer
}

function newChat() {
  if (busy) return;
  records = [];
  save();
  $("log").replaceChildren();
  $("empty").hidden = false;
  loadExamples();
  $("question").focus();
}

// -- example questions: from the index's own titles -----------------------------------------------

/** A topic for an example question: the document's title, or its id made readable. */
function topicOf(doc) {
  let topic = (doc.title || "").trim();
  if (!topic || topic === doc.id) {
    topic = doc.id.split("/").pop().replace(/\.[a-z0-9]{1,5}$/i, "").replace(/[-_]+/g, " ").trim();
  }
  topic = topic.replace(/\s+/g, " ");
  return topic.length > 70 ? topic.slice(0, 67).replace(/\s+\S*$/, "") + "…" : topic;
}

async function loadExamples() {
  const at = shown;
  const list = $("examples");
  let page;
  try {
    page = await fetchPage(0, 100);
    if (page.total > 100) {
      // A large index: a random hundred, not always the first ids in order.
      const more = await fetchPage(Math.floor(Math.random() * (page.total - 99)), 100);
      if (more.documents.length) page = { ...more, total: page.total };
    }
  } catch (_) {
    return;
  }
  if (at !== shown) return; // another collection is shown now
  if (!page.total) {
    $("empty-lead").textContent = "No documents are indexed yet. Add some under Documents, then ask about them.";
    list.replaceChildren();
    return;
  }
  $("empty-lead").textContent = "Ask a question about the indexed documents. Try:";
  const topics = [...new Set(page.documents.map(topicOf).filter((t) => t.length >= 3))];
  // A different few each time, so the suggestions cover the index rather than its first files.
  for (let i = topics.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [topics[i], topics[j]] = [topics[j], topics[i]];
  }
  list.replaceChildren(...topics.slice(0, 3).map((t) => el("li", {},
    el("button", { type: "button", class: "example", onclick: (e) => askExample(e.currentTarget.textContent) },
      `What is “${t}” about?`))));
}

function askExample(text) {
  $("question").value = text;
  submitQuestion(null);
}

// -- source viewer ------------------------------------------------------------------------------

/** Wrap the characters [start, end) of the rendered text in <mark>s; `nodes` are the text nodes
 * QAMarkdown made, with their offsets in the source. */
function highlight(nodes, start, end) {
  const marks = [];
  for (const [node, at] of nodes) {
    const stop = at + node.data.length;
    if (stop <= start || at >= end) continue;
    let part = node;
    const a = Math.max(start, at) - at;
    const b = Math.min(end, stop) - at;
    if (a > 0) part = part.splitText(a);
    if (b - a < part.data.length) part.splitText(b - a);
    const mark = el("mark", {});
    part.replaceWith(mark);
    mark.append(part);
    marks.push(mark);
  }
  return marks;
}

function drawViewer() {
  const { doc, span } = viewerState;
  const text = $("viewer-text");
  text.replaceChildren();
  const canFormat = doc.text.length <= MAX_FORMATTED;
  $("viewer-mode").hidden = !canFormat;
  $("viewer-mode").textContent = formatted ? "Show plain text" : "Show formatted";
  let marks = [];
  if (formatted && canFormat) {
    const nodes = [];
    text.append(QAMarkdown.render(doc.text, { onText: (node, at) => nodes.push([node, at]) }));
    if (span) marks = highlight(nodes, span.start, span.end);
    text.classList.add("formatted");
  }
  if (!(formatted && canFormat) || (span && span.end > span.start && !marks.length)) {
    // Plain text, or a span that is all markup (nothing of it shows formatted): the exact text.
    text.replaceChildren();
    text.classList.remove("formatted");
    if (span) {
      const mark = el("mark", {}, doc.text.slice(span.start, span.end));
      text.append(doc.text.slice(0, span.start), mark, doc.text.slice(span.end));
      marks = [mark];
    } else {
      text.append(doc.text);
    }
  }
  if (marks.length) marks[0].id = "highlight";
  return marks;
}

async function openDocument(id, trigger, span) {
  lastTrigger = trigger;
  const response = await fetch(documentUrl(id) + (collection ? "&" : "?") + "include_text=true", { headers: headers() });
  const dialog = $("viewer");
  const text = $("viewer-text");
  const warning = $("viewer-warning");
  text.replaceChildren();
  warning.hidden = true;
  if (!response.ok) {
    viewerState = null;
    $("viewer-mode").hidden = true;
    $("viewer-title").textContent = id;
    $("viewer-meta").textContent = "";
    text.append(`Could not open the document: ${await errorMessage(response)}`);
    if (!dialog.open) dialog.showModal();
    return;
  }
  const doc = await response.json();
  $("viewer-title").textContent = doc.title || doc.id;
  if (span) {
    const { start, end, quote } = span;
    const page = span.page == null ? "" : ` · page ${span.page}`;
    $("viewer-meta").textContent = `${doc.id}${page} · cited characters ${start}–${end}`;
    if (quote !== undefined && doc.text.slice(start, end) !== quote) {
      warning.textContent = "This document has changed since the answer was given; the highlight may be off.";
      warning.hidden = false;
    }
  } else {
    $("viewer-meta").textContent = `${doc.id} · ${plural(doc.chars, "character")} · ${plural(doc.n_chunks, "passage")}`;
  }
  viewerState = { doc, span };
  const marks = drawViewer();
  if (!dialog.open) dialog.showModal();
  if (marks.length) marks[0].scrollIntoView({ block: "center" });
  text.focus();
}

function openCitation(c, trigger) {
  openDocument(c.doc_id, trigger, c);
}

/** A citation's link, /documents/<id>#<start>-<end> (what the OpenAI-compatible route's
 * annotations point at): open that document with those characters highlighted. */
function openLinkedDocument() {
  const prefix = "/documents/";
  if (!location.pathname.startsWith(prefix)) return;
  let id;
  try {
    id = location.pathname.slice(prefix.length).split("/").map(decodeURIComponent).join("/");
  } catch {
    return;
  }
  if (!id) return;
  const m = /^#(\d+)-(\d+)$/.exec(location.hash);
  const span = m && Number(m[1]) <= Number(m[2]) ? { start: Number(m[1]), end: Number(m[2]) } : null;
  openDocument(id, null, span);
}

// -- documents panel ----------------------------------------------------------------------------

const panel = { offset: 0, query: "", all: null }; // `all`: every document, read for a search

async function fetchPage(offset, limit) {
  const response = await fetch(inCollection(`/v1/documents?offset=${offset}&limit=${limit}`), { headers: headers() });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

/** Every document (up to SEARCH_PAGES pages of 1,000), for a search by title or id. */
async function allDocuments() {
  if (panel.all) return panel.all;
  const docs = [];
  let total = 0;
  for (let page = 0; page < SEARCH_PAGES; page++) {
    const got = await fetchPage(page * 1000, 1000);
    total = got.total;
    docs.push(...got.documents);
    if (docs.length >= total || !got.documents.length) break;
  }
  panel.all = { docs, total };
  return panel.all;
}

function documentItem(d) {
  const name = d.title || d.id;
  return el("li", {},
    el("button", { type: "button", class: "doc", onclick: (e) => openDocument(d.id, e.currentTarget, null) }, name),
    el("span", { class: "meta" }, `${d.id} · ${plural(d.n_chunks, "passage")}`),
    el("button", {
      type: "button", class: "delete", "aria-label": `Delete ${d.id}`,
      onclick: (e) => confirmDelete(d, e.currentTarget),
    }, "Delete"));
}

async function loadDocuments() {
  const at = shown;
  const list = $("doc-list");
  const count = $("doc-count");
  let docs;
  let total;
  let matched = null;
  try {
    if (panel.query) {
      const all = await allDocuments();
      const q = panel.query.toLowerCase();
      const hits = all.docs.filter((d) => d.id.toLowerCase().includes(q) || (d.title || "").toLowerCase().includes(q));
      if (panel.offset >= hits.length) panel.offset = Math.max(0, (Math.ceil(hits.length / PAGE_SIZE) - 1) * PAGE_SIZE);
      docs = hits.slice(panel.offset, panel.offset + PAGE_SIZE);
      total = hits.length;
      matched = all;
    } else {
      let page = await fetchPage(panel.offset, PAGE_SIZE);
      if (!page.documents.length && panel.offset > 0 && page.total > 0) {
        panel.offset = Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE; // the last page went away
        page = await fetchPage(panel.offset, PAGE_SIZE);
      }
      docs = page.documents;
      total = page.total;
    }
  } catch (err) {
    if (at === shown) count.textContent = `Could not list documents: ${err.message}`;
    return;
  }
  if (at !== shown) return; // another collection is shown now
  list.replaceChildren(...docs.map(documentItem));
  const first = docs.length ? panel.offset + 1 : 0;
  const range = `${first}–${panel.offset + docs.length}`;
  if (matched) {
    const searched = matched.docs.length < matched.total ? ` (searched the first ${plural(matched.docs.length, "document")})` : "";
    count.textContent = total
      ? `${plural(total, "document")} match “${panel.query}” · showing ${range}${searched}`
      : `No document matches “${panel.query}”${searched}`;
  } else {
    count.textContent = total > docs.length ? `${plural(total, "document")} · showing ${range}` : plural(total, "document");
  }
  $("prev-page").disabled = panel.offset === 0;
  $("next-page").disabled = panel.offset + PAGE_SIZE >= total;
  $("pager").hidden = total <= PAGE_SIZE;
}

function changed() {
  panel.all = null; // the index changed: a search reads it again
  return loadDocuments();
}

let searchTimer = 0;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    panel.query = $("doc-search").value.trim();
    panel.offset = 0;
    loadDocuments();
  }, 200);
}

function turnPage(step) {
  panel.offset = Math.max(0, panel.offset + step * PAGE_SIZE);
  loadDocuments();
}

let pendingDelete = null;
function confirmDelete(doc, trigger) {
  pendingDelete = { doc, trigger };
  const name = doc.title && doc.title !== doc.id ? `“${doc.title}” (${doc.id})` : doc.id;
  $("confirm-text").textContent = `Delete ${name}? Its ${plural(doc.n_chunks, "passage")} leave the index; this cannot be undone.`;
  $("confirm").showModal();
}

async function onConfirmClose() {
  const dialog = $("confirm");
  const job = pendingDelete;
  pendingDelete = null;
  if (!job) return;
  if (dialog.returnValue !== "delete") {
    job.trigger.focus();
    return;
  }
  const status = $("doc-status");
  status.className = "";
  status.textContent = `Deleting ${job.doc.id}…`;
  try {
    const response = await fetch(documentUrl(job.doc.id), { method: "DELETE", headers: headers() });
    if (response.ok) {
      status.textContent = `Deleted ${job.doc.id}.`;
      await changed();
      loadExamples();
    } else {
      const needsKey = response.status === 401 || response.status === 403;
      status.className = "error";
      status.textContent = `Could not delete ${job.doc.id}: ${await errorMessage(response)}` +
        (needsKey && !apiKey() ? " Enter the API key under API key." : "");
    }
  } catch (err) {
    status.className = "error";
    status.textContent = `Could not delete ${job.doc.id}: ${err.message}`;
  }
  $("doc-search").focus();
}

/** Upload one file with XMLHttpRequest (fetch reports no upload progress); resolves to
 * {ok, body, status, statusText}, and calls onProgress(fraction) as the bytes go. */
function uploadFile(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", inCollection("/v1/documents"));
    const key = apiKey();
    if (key) xhr.setRequestHeader("authorization", `Bearer ${key}`);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (_) { /* not JSON */ }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, body, status: xhr.status, statusText: xhr.statusText });
    });
    xhr.addEventListener("error", () => resolve({ ok: false, body: null, status: 0, statusText: "the upload failed; is the server running?" }));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

function uploadResult(results) {
  if (results.length === 1) {
    const [r] = results;
    return `${r.status} (${plural(r.chunks, "passage")})`;
  }
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] || 0) + 1;
  return Object.entries(by).map(([status, n]) => `${plural(n, "document")} ${status}`).join(", ");
}

async function upload(event) {
  event.preventDefault();
  const input = $("file");
  const files = [...input.files];
  const list = $("uploads");
  if (!files.length) {
    list.replaceChildren(el("li", { class: "error" }, "Choose one or more files first."));
    return;
  }
  $("upload-button").disabled = true;
  // One request per file: each has its own progress, and one bad file fails alone.
  const rows = files.map((f) => {
    const bar = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${f.name}` });
    const status = el("span", { class: "upload-status" }, "waiting");
    const row = el("li", { class: "upload-row" }, el("span", { class: "upload-name" }, f.name), bar, status);
    return { file: f, row, bar, status };
  });
  list.replaceChildren(...rows.map((r) => r.row));
  let added = 0;
  for (const r of rows) {
    r.status.textContent = "uploading…";
    const res = await uploadFile(r.file, (fraction) => { r.bar.value = Math.round(fraction * 100); });
    if (res.ok && res.body && Array.isArray(res.body.results)) {
      r.bar.value = 100;
      r.row.classList.add("done");
      r.status.textContent = uploadResult(res.body.results);
      added++;
    } else {
      r.row.classList.add("error");
      r.status.textContent = `failed: ${messageOf(res.body, res.status, res.statusText)}`;
    }
  }
  input.value = "";
  $("upload-button").disabled = false;
  if (added) {
    await changed();
    if (!records.length) loadExamples();
  }
}

// -- collections --------------------------------------------------------------------------------

/** Say which collection the page asks, in the header and the tab's title (the default: neither). */
function nameCollection() {
  const named = collection && collection !== defaultName;
  $("collection").textContent = named ? `Collection: ${collection}` : "";
  // The picker names it when it shows; else this line does, as before there was a picker.
  $("collection").hidden = !named || !$("collection-picker").hidden;
  document.title = named ? `qa: ${collection}` : "qa: ask your documents";
}

/** The collections the key may read (GET /v1/collections), in the picker, the default first.
 * Shown when there is a choice (two or more). A key that may not list them (401, 403), or any
 * failure, leaves the picker hidden and the page on the collection of its address, as before. */
async function loadCollections() {
  let listed = [];
  try {
    const response = await fetch("/v1/collections", { headers: headers() });
    if (response.ok) {
      const body = await response.json();
      if (Array.isArray(body.collections)) listed = body.collections.filter((c) => c && typeof c.name === "string");
    }
  } catch (_) { /* no picker: the page works on the collection of its address */ }
  const first = listed.find((c) => c.default);
  if (first) defaultName = first.name;
  // The default's option has no value: picking it takes `?collection=` out of the address.
  const options = listed.map((c) => (c.default ? ["", `${c.name} (default)`] : [c.name, c.name]));
  const current = collection && collection !== defaultName ? collection : "";
  if (!options.some(([value]) => value === current)) {
    // Named in the address (or the default) but not listed for this key: still shown as chosen.
    if (current) options.push([current, current]);
    else options.unshift(["", "default"]);
  }
  const select = $("collection-select");
  select.replaceChildren(...options.map(([value, label]) => el("option", { value }, label)));
  select.value = current;
  $("collection-picker").hidden = options.length < 2;
  nameCollection();
}

/** Back or Forward: show the collection the address names now (once the answer being written is done). */
function followAddress() {
  if (collectionInAddress() !== collection) switchCollection(collectionInAddress(), false);
}

/** Show collection `name` (null: the default): its address, its documents, its own conversation.
 * `push`: a new history entry (the picker), so Back returns to the collection shown before. */
function switchCollection(name, push) {
  if (busy) return;
  if (name !== null && name === defaultName) name = null;
  if (name === collection) return;
  collection = name;
  shown++;
  const url = new URL(location.href);
  url.pathname = "/"; // a document's link (/documents/<id>) belongs to the collection it was in
  url.hash = "";
  if (name) url.searchParams.set("collection", name);
  else url.searchParams.delete("collection");
  if (push) history.pushState(null, "", url);
  else if (url.href !== location.href) history.replaceState(null, "", url);
  $("collection-select").value = name || "";
  nameCollection();
  records = [];
  $("log").replaceChildren();
  $("empty").hidden = false;
  $("examples").replaceChildren();
  $("empty-lead").textContent = "Ask a question about the indexed documents.";
  restore();
  panel.offset = 0;
  panel.query = "";
  panel.all = null;
  $("doc-search").value = "";
  $("doc-list").replaceChildren();
  $("doc-count").textContent = "";
  $("doc-status").textContent = "";
  $("uploads").replaceChildren();
  loadDocuments();
  loadExamples();
}

// -- wiring ---------------------------------------------------------------------------------------

function submitQuestion(event) {
  if (event) event.preventDefault();
  const box = $("question");
  const question = box.value.trim();
  if (!question || busy) return;
  box.value = "";
  ask(question).then(() => box.focus());
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", submitQuestion);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submitQuestion(e);
  });
  $("new-chat").addEventListener("click", newChat);
  $("upload").addEventListener("submit", upload);
  $("doc-search").addEventListener("input", onSearch);
  $("prev-page").addEventListener("click", () => turnPage(-1));
  $("next-page").addEventListener("click", () => turnPage(1));
  $("confirm").addEventListener("close", onConfirmClose);
  const key = $("api-key");
  key.value = sessionStorage.getItem("qa-api-key") || "";
  key.addEventListener("change", () => {
    sessionStorage.setItem("qa-api-key", key.value.trim());
    changed();
    loadCollections();
  });
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer-mode").addEventListener("click", () => {
    formatted = !formatted;
    if (!viewerState) return;
    const marks = drawViewer();
    if (marks.length) marks[0].scrollIntoView({ block: "center" });
  });
  // The browser may already have put focus back (and the user moved it on) before this event
  // runs: focus the trigger only if focus is nowhere, never take it from where it went since.
  $("viewer").addEventListener("close", () => {
    const nowhere = !document.activeElement || document.activeElement === document.body;
    if (lastTrigger && nowhere) lastTrigger.focus();
  });
  $("docs-toggle").addEventListener("click", () => {
    const open = $("docs").classList.toggle("open");
    $("docs-toggle").setAttribute("aria-expanded", String(open));
  });
  $("collection-select").addEventListener("change", (e) => switchCollection(e.target.value || null, true));
  window.addEventListener("popstate", followAddress);
  nameCollection();
  restore();
  loadDocuments();
  loadExamples();
  loadCollections();
  openLinkedDocument();
  window.addEventListener("hashchange", openLinkedDocument);
});
