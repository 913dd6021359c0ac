// The chat page. No build step, no framework.
// Rule: text from the server (answers, document text, titles, ids) is only ever put into the
// page as text (textContent / text nodes), never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const messages = []; // the conversation sent with every question: [{role, content}]
let busy = false;
let lastTrigger = null; // the control that opened the viewer, focused again when it closes

/** Make an element; string children become text nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** /v1/documents/{id}: ids may hold slashes (the route takes a path), each segment encoded. */
function documentUrl(id) {
  return "/v1/documents/" + id.split("/").map(encodeURIComponent).join("/");
}

/** Headers for a request to this server, with the API key when one was given. */
function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") return body.message;
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

// -- conversation -------------------------------------------------------------------------

function addUserTurn(text) {
  $("empty").hidden = true;
  const item = el("li", { class: "turn user" }, el("span", { class: "who" }, "You"), el("p", { class: "text" }, text));
  $("log").append(item);
  item.scrollIntoView({ block: "end" });
}

function addAssistantTurn() {
  const status = el("p", { class: "status" }, "Searching…");
  const short = el("p", { class: "short", hidden: "" });
  const answer = el("p", { class: "text answer" });
  const cites = el("span", { class: "cites" });
  const note = el("p", { class: "note", hidden: "" });
  const item = el("li", { class: "turn assistant", "aria-busy": "true" },
    el("span", { class: "who" }, "qa"), status, short, answer, cites, note);
  $("log").append(item);
  return { item, status, short, answer, cites, note };
}

/** The shortest span that answers (a name, a date), bold above the answer sentence. */
function showShort(turn, short) {
  if (!short) return;
  turn.short.replaceChildren("Short answer: ", el("strong", {}, short.text));
  turn.short.hidden = false;
}

function showNote(turn, note) {
  if (!note) return;
  turn.note.textContent = `Note: ${note}`;
  turn.note.hidden = false;
}

/** A generated answer as checked by the server, sentence by sentence: each kept citation is a
 * marker after its sentence, and a sentence whose citations the check dropped (`supported:
 * false`) is marked "unsupported". Replaces whatever the draft showed. */
function showChecked(turn, sentences, citations) {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const parts = [];
  sentences.forEach((s, i) => {
    if (i > 0) parts.push(" ");
    if (s.supported === false) {
      parts.push(el("span", { class: "unsupported", "aria-describedby": "unsupported-help" },
        el("span", { class: "flag" }, "unsupported"), " ", s.text));
    } else {
      parts.push(el("span", { class: "sentence" }, s.text));
    }
    for (const n of s.citations) {
      if (byNumber.has(n)) parts.push(" ", citationButton(byNumber.get(n)));
    }
  });
  turn.answer.replaceChildren(...parts);
}

function citationButton(c) {
  const page = c.page == null ? "" : `, page ${c.page}`;
  const label = `Source ${c.n}: ${c.title || c.doc_id}${page}`;
  return el("button", {
    type: "button", class: "cite", "aria-label": label, title: label,
    onclick: (event) => openCitation(c, event.currentTarget),
  }, `[${c.n}]`);
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
  addUserTurn(question);
  messages.push({ role: "user", content: question });
  const turn = addAssistantTurn();
  let answerText = "";
  let sentences = null; // a generated answer's checked sentences, from its `answer` event
  let failed = null;
  try {
    const response = await fetch("/v1/chat", {
      method: "POST",
      headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
      body: JSON.stringify({ messages, stream: true }),
    });
    if (!response.ok) {
      failed = await errorMessage(response);
    } else {
      await readEvents(response, (name, data) => {
        if (name === "passages") {
          turn.status.textContent = data.rewritten ? `Searched for: ${data.query}` : "";
          turn.status.hidden = !data.rewritten;
          turn.item.append(passagesDetails(data.passages));
        } else if (name === "delta") {
          // A draft until the stream ends: a generated answer's text before its check.
          answerText += data.text;
          turn.answer.classList.add("draft");
          turn.answer.textContent = answerText;
        } else if (name === "answer") {
          // The checked answer (generated, or the extractive one if generation failed) replaces
          // the draft, so no sentence or marker the check took out stays on screen.
          answerText = data.text;
          turn.answer.classList.remove("draft");
          sentences = data.generated && data.sentences ? data.sentences : null;
          if (sentences) showChecked(turn, sentences, []);
          else turn.answer.textContent = answerText;
          showNote(turn, data.note);
        } else if (name === "citations") {
          if (sentences) showChecked(turn, sentences, data.citations);
          else for (const c of data.citations) turn.cites.append(" ", citationButton(c));
        } else if (name === "done") {
          turn.answer.classList.remove("draft");
          showShort(turn, data.short_answer);
          showNote(turn, data.note);
        } else if (name === "error") {
          failed = data.message;
        }
      });
    }
  } catch (err) {
    failed = `the request failed (${err.message}); is the server running?`;
  }
  turn.item.setAttribute("aria-busy", "false");
  if (failed !== null) {
    messages.pop(); // a question that got no answer is not part of the conversation
    if (turn.answer.classList.contains("draft")) turn.answer.replaceChildren(); // never checked: not shown
    turn.status.hidden = false;
    turn.status.className = "status error";
    turn.status.textContent = `Error: ${failed}`;
  } else {
    messages.push({ role: "assistant", content: answerText });
  }
  busy = false;
  $("send").disabled = false;
  turn.item.scrollIntoView({ block: "end" });
}

// -- source viewer --------------------------------------------------------------------------

async function openDocument(id, trigger, span) {
  lastTrigger = trigger;
  const response = await fetch(documentUrl(id) + "?include_text=true", { headers: headers() });
  const dialog = $("viewer");
  const text = $("viewer-text");
  const warning = $("viewer-warning");
  text.replaceChildren();
  warning.hidden = true;
  if (!response.ok) {
    $("viewer-title").textContent = id;
    $("viewer-meta").textContent = "";
    text.append(`Could not open the document: ${await errorMessage(response)}`);
    if (!dialog.open) dialog.showModal();
    return;
  }
  const doc = await response.json();
  $("viewer-title").textContent = doc.title || doc.id;
  let mark = null;
  if (span) {
    const { start, end, quote } = span;
    mark = el("mark", { id: "highlight" }, doc.text.slice(start, end));
    text.append(doc.text.slice(0, start), mark, doc.text.slice(end));
    const page = span.page == null ? "" : ` · page ${span.page}`;
    $("viewer-meta").textContent = `${doc.id}${page} · cited characters ${start}–${end}`;
    if (quote !== undefined && doc.text.slice(start, end) !== quote) {
      warning.textContent = "This document has changed since the answer was given; the highlight may be off.";
      warning.hidden = false;
    }
  } else {
    text.append(doc.text);
    $("viewer-meta").textContent = `${doc.id} · ${plural(doc.chars, "character")} · ${plural(doc.n_chunks, "passage")}`;
  }
  if (!dialog.open) dialog.showModal();
  if (mark) mark.scrollIntoView({ block: "center" });
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

// -- documents panel --------------------------------------------------------------------------

async function loadDocuments() {
  const response = await fetch("/v1/documents?limit=200", { headers: headers() });
  const list = $("doc-list");
  if (!response.ok) {
    $("doc-count").textContent = `Could not list documents: ${await errorMessage(response)}`;
    return;
  }
  const page = await response.json();
  list.replaceChildren();
  for (const d of page.documents) {
    list.append(el("li", {},
      el("button", { type: "button", class: "doc", onclick: (e) => openDocument(d.id, e.currentTarget, null) },
        d.title || d.id),
      el("span", { class: "meta" }, `${d.id} · ${plural(d.n_chunks, "passage")}`)));
  }
  const shown = page.documents.length;
  $("doc-count").textContent = page.total === shown
    ? plural(page.total, "document")
    : `${plural(page.total, "document")} (first ${shown} shown)`;
}

async function upload(event) {
  event.preventDefault();
  const input = $("file");
  const status = $("upload-status");
  if (!input.files.length) {
    status.textContent = "Choose a file first.";
    return;
  }
  const form = new FormData();
  form.append("file", input.files[0]);
  $("upload-button").disabled = true;
  status.textContent = `Uploading ${input.files[0].name}…`;
  try {
    const response = await fetch("/v1/documents", { method: "POST", body: form, headers: headers() });
    if (response.ok) {
      const [r] = (await response.json()).results;
      status.textContent = `${r.id}: ${r.status} (${plural(r.chunks, "passage")}).`;
      input.value = "";
      await loadDocuments();
    } else {
      status.textContent = `Upload failed: ${await errorMessage(response)}`;
    }
  } catch (err) {
    status.textContent = `Upload failed: ${err.message}`;
  }
  $("upload-button").disabled = false;
}

// -- wiring -------------------------------------------------------------------------------------

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
  for (const b of document.querySelectorAll(".example")) {
    b.addEventListener("click", () => { $("question").value = b.textContent; submitQuestion(null); });
  }
  $("new-chat").addEventListener("click", () => {
    if (busy) return;
    messages.length = 0;
    $("log").replaceChildren();
    $("empty").hidden = false;
    $("question").focus();
  });
  $("upload").addEventListener("submit", upload);
  const key = $("api-key");
  key.value = sessionStorage.getItem("qa-api-key") || "";
  key.addEventListener("change", () => {
    sessionStorage.setItem("qa-api-key", key.value.trim());
    loadDocuments();
  });
  $("viewer-close").addEventListener("click", () => $("viewer").close());
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
  loadDocuments();
  openLinkedDocument();
  window.addEventListener("hashchange", openLinkedDocument);
});
