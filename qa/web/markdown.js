// A small, safe Markdown renderer for the chat page: answers and documents.
//
// Why our own (about 550 lines) and not marked + DOMPurify (about 60 KB vendored): this renderer
// never makes HTML. It builds DOM nodes, and every character of the source reaches the page through
// a text node, so there is no sanitizer to configure or bypass (mutation XSS, DOMPurify's CVEs), no
// markup string is ever parsed, and the page can enforce Trusted Types. It also knows where each
// text node came from in the source (`onText(node, offset)`), which is how the document viewer
// highlights a citation's exact characters inside a formatted document; and it takes inline tokens
// (private-use characters the caller resolves to nodes), which is how citation markers sit right
// after their sentence. Neither fits marked's HTML-string output.
//
// The subset: ATX and setext headings, paragraphs (line breaks kept), fenced code blocks, bullet
// and ordered lists (nested by indentation), block quotes, thematic breaks, inline code, emphasis
// and strong emphasis (* and _), links ([text](url) and <url>) and images (shown as their alt text).
// A link becomes <a> only when its URL is absolute http(s); any other link is shown as its text.
// Raw HTML is not a construct here: `<b>` is shown as the characters < b >.
//
// Invariant (tests/system/test_web_page.py checks it): every text node passed to `onText(node,
// offset)` holds exactly `source.slice(offset, offset + node.data.length)`.
"use strict";

(function () {
  const TOKEN = /[\uE000-\uF8FF]/; // the private-use area: inline tokens when `tokens` is on
  const TOKEN_G = /[\uE000-\uF8FF]/g;
  const PUNCT = /[!-/:-@[-`{-~]/;
  const SPACE = /\s/;
  const ALNUM = /[\p{L}\p{N}]/u;

  const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
  const ATX = /^ {0,3}(#{1,6})(?:[ \t]+|$)/;
  const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
  const QUOTE = /^ {0,3}> ?/;
  const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)/;
  const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
  const BLANK = /^[ \t]*$/;

  /** A piece of the source: `text` starts at `start` in it (-1: not from the source). */
  function piece(text, start) {
    return { text, start };
  }

  /** Split lines of the source into {text, start} records (without their newline). */
  function splitLines(src) {
    const lines = [];
    let pos = 0;
    for (;;) {
      const nl = src.indexOf("\n", pos);
      const end = nl < 0 ? src.length : nl;
      let text = src.slice(pos, end);
      if (text.endsWith("\r")) text = text.slice(0, -1);
      lines.push(piece(text, pos));
      if (nl < 0) return lines;
      pos = nl + 1;
    }
  }

  /** `line` without its first `n` characters (a prefix such as "> " or a list indent). */
  function drop(line, n) {
    return piece(line.text.slice(n), line.start < 0 ? -1 : line.start + n);
  }

  function indentOf(text) {
    const m = /^[ \t]*/.exec(text)[0];
    return m.replace(/\t/g, "    ").length;
  }

  function isBlockStart(text) {
    return FENCE.test(text) || ATX.test(text) || HR.test(text) || QUOTE.test(text) || ITEM.test(text);
  }

  /** Whether a line ends a paragraph: as CommonMark, an ordered list must start at 1 to. */
  function interrupts(text) {
    const m = ITEM.exec(text);
    if (m) return !/\d/.test(m[2]) ? !BLANK.test(text.slice(m[0].length)) : parseInt(m[2], 10) === 1;
    return FENCE.test(text) || ATX.test(text) || HR.test(text) || QUOTE.test(text);
  }

  class Renderer {
    constructor(opts) {
      this.tokens = Boolean(opts.tokens);
      this.token = opts.token || (() => null);
      this.onText = opts.onText || null;
      this.headingShift = opts.headingShift == null ? 2 : opts.headingShift;
      this.wrap = null; // an open wrapper's factory (a sentence spanning inline content)
      this.wrapper = null; // its element in the current block
      this.wrapCount = 0;
    }

    text(str, start, into) {
      if (!str) return;
      const node = document.createTextNode(str);
      if (this.onText && start >= 0) this.onText(node, start);
      into.append(node);
    }

    // -- blocks ---------------------------------------------------------------------------------

    blocks(lines, into) {
      let i = 0;
      while (i < lines.length) {
        const line = lines[i];
        const t = line.text;
        if (BLANK.test(t)) {
          i++;
          continue;
        }
        let m;
        if ((m = FENCE.exec(t)) && !(m[2][0] === "`" && m[3].includes("`"))) {
          i = this.fence(lines, i, m, into);
        } else if ((m = ATX.exec(t))) {
          const h = document.createElement(`h${Math.min(6, m[1].length + this.headingShift)}`);
          // Without a closing sequence of #s ("## Title ##") and trailing spaces.
          const content = t.slice(m[0].length).replace(/(?:^|[ \t]+)#+[ \t]*$/, "").replace(/[ \t]+$/, "");
          this.inline([piece(content, line.start < 0 ? -1 : line.start + m[0].length)], h);
          into.append(h);
          i++;
        } else if (HR.test(t)) {
          into.append(document.createElement("hr"));
          i++;
        } else if (QUOTE.test(t)) {
          const inner = [];
          while (i < lines.length && QUOTE.test(lines[i].text)) {
            inner.push(drop(lines[i], QUOTE.exec(lines[i].text)[0].length));
            i++;
          }
          const q = document.createElement("blockquote");
          this.blocks(inner, q);
          into.append(q);
        } else if (ITEM.test(t)) {
          i = this.list(lines, i, into);
        } else {
          i = this.paragraph(lines, i, into);
        }
      }
    }

    fence(lines, i, m, into) {
      const mark = m[2];
      const indent = m[1].length;
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      const lang = m[3].replace(TOKEN_G, "").trim().split(/\s+/)[0];
      if (/^[\w+#.-]{1,30}$/.test(lang)) code.className = `language-${lang}`;
      const after = [];
      this.collectTokens(m[3], after);
      const close = new RegExp(`^ {0,3}${mark[0] === "`" ? "`" : "~"}{${mark.length},}[ \\t\\uE000-\\uF8FF]*$`);
      let j = i + 1;
      let first = true;
      for (; j < lines.length; j++) {
        const line = lines[j];
        if (close.test(line.text)) {
          this.collectTokens(line.text, after);
          j++;
          break;
        }
        // Content lines lose up to the fence's indentation, as CommonMark says.
        const strip = Math.min(indent, /^ */.exec(line.text)[0].length);
        const body = drop(line, strip);
        if (!first) this.text("\n", this.newlineAfter(lines[j - 1]), code);
        first = false;
        this.codeText(body, code, after);
      }
      pre.append(code);
      into.append(pre);
      this.emitTokens(after, into);
      return j;
    }

    /** Code text with any tokens taken out (into `after`, shown after the code). */
    codeText(p, into, after) {
      if (!this.tokens || !TOKEN.test(p.text)) {
        this.text(p.text, p.start, into);
        return;
      }
      let run = 0;
      for (let k = 0; k <= p.text.length; k++) {
        if (k === p.text.length || TOKEN.test(p.text[k])) {
          this.text(p.text.slice(run, k), p.start < 0 ? -1 : p.start + run, into);
          if (k < p.text.length) after.push(p.text.charCodeAt(k));
          run = k + 1;
        }
      }
    }

    collectTokens(text, after) {
      if (!this.tokens) return;
      for (const ch of text) if (TOKEN.test(ch)) after.push(ch.charCodeAt(0));
    }

    /** Tokens found in code, after it: nodes in a paragraph of their own, wrappers opened/closed. */
    emitTokens(codes, into) {
      if (!codes.length) return;
      const p = document.createElement("p");
      p.className = "after-code";
      for (const code of codes) this.applyToken(code, p, true);
      this.wrapper = null;
      if (p.childNodes.length) into.append(p);
    }

    list(lines, i, into) {
      const first = ITEM.exec(lines[i].text);
      const ordered = /\d/.test(first[2]);
      const kind = ordered ? first[2].slice(-1) : first[2];
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered && parseInt(first[2], 10) !== 1) list.setAttribute("start", String(parseInt(first[2], 10)));
      while (i < lines.length) {
        const m = ITEM.exec(lines[i].text);
        if (!m || (/\d/.test(m[2]) ? m[2].slice(-1) : m[2]) !== kind || /\d/.test(m[2]) !== ordered) break;
        // The item's content starts after the marker and one to four spaces.
        const spaces = m[3].length > 4 ? 1 : Math.max(1, m[3].length);
        const width = m[1].length + m[2].length + (m[3].length ? spaces : 0);
        const body = [drop(lines[i], Math.min(width, lines[i].text.length))];
        i++;
        while (i < lines.length) {
          const t = lines[i].text;
          if (BLANK.test(t)) {
            // A blank line continues the item only if an indented line follows.
            let k = i + 1;
            while (k < lines.length && BLANK.test(lines[k].text)) k++;
            if (k < lines.length && indentOf(lines[k].text) >= width) {
              for (; i < k; i++) body.push(piece("", -1));
              continue;
            }
            break;
          }
          if (indentOf(t) >= width) {
            body.push(drop(lines[i], Math.min(width, /^ */.exec(t)[0].length)));
          } else if (!isBlockStart(t) && !BLANK.test(body[body.length - 1].text)) {
            body.push(lines[i]); // a lazy continuation of the item's paragraph
          } else {
            break;
          }
          i++;
        }
        const li = document.createElement("li");
        this.blocks(body, li);
        // A tight item (no blank line) has no <p> around its text, as in most renderers.
        if (!body.some((l) => BLANK.test(l.text)) && li.firstChild && li.firstChild.nodeName === "P") {
          const p = li.firstChild;
          const inner = document.createDocumentFragment();
          while (p.firstChild) inner.append(p.firstChild); // not a spread: a paragraph may hold 100,000 nodes
          p.replaceWith(inner);
        }
        list.append(li);
        // Blank lines between items, when another item follows.
        let k = i;
        while (k < lines.length && BLANK.test(lines[k].text)) k++;
        if (k > i && k < lines.length && ITEM.test(lines[k].text)) i = k;
      }
      into.append(list);
      return i;
    }

    paragraph(lines, i, into) {
      const body = [lines[i]];
      i++;
      while (i < lines.length && !BLANK.test(lines[i].text)) {
        if (SETEXT.test(lines[i].text)) {
          const h = document.createElement(`h${Math.min(6, (lines[i].text.includes("=") ? 1 : 2) + this.headingShift)}`);
          this.inline(this.joined(body), h);
          into.append(h);
          return i + 1;
        }
        if (interrupts(lines[i].text)) break;
        body.push(lines[i]);
        i++;
      }
      const p = document.createElement("p");
      this.inline(this.joined(body), p);
      into.append(p);
      return i;
    }

    /** Where the newline ending `line` is in the source (-1 if unknown, or a "\r\n"). */
    newlineAfter(line) {
      const at = line.start < 0 ? -1 : line.start + line.text.length;
      return at >= 0 && this.src[at] === "\n" ? at : -1;
    }

    /** Lines as pieces with their newlines (each newline is a piece of the source too). */
    joined(lines) {
      const out = [];
      lines.forEach((l, k) => {
        if (k > 0) out.push(piece("\n", this.newlineAfter(lines[k - 1])));
        out.push(l);
      });
      return out;
    }

    // -- inline ---------------------------------------------------------------------------------

    /** Render pieces as inline content into `block`. */
    inline(pieces, block) {
      this.wrapper = null;
      let s = "";
      const starts = []; // [index in s, source offset] per piece
      for (const p of pieces) {
        starts.push([s.length, p.start]);
        s += p.text;
      }
      this.s = s;
      this.starts = starts;
      this.memo = new Map();
      this.block = block;
      this.spans(0, s.length, null);
      this.wrapper = null;
    }

    /** Where inline output goes: the open wrapper at the top level, else `into`. */
    out(into) {
      if (into) return into;
      if (this.wrap) {
        if (!this.wrapper) {
          this.wrapper = this.wrap(this.wrapCount++ === 0);
          this.block.append(this.wrapper);
        }
        return this.wrapper;
      }
      return this.block;
    }

    /** Text s[a, b) as text nodes, one per source piece it crosses. */
    emit(a, b, into) {
      if (a >= b) return;
      const target = this.out(into);
      const starts = this.starts;
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid][0] <= a) lo = mid;
        else hi = mid - 1;
      }
      for (let k = lo; k < starts.length && starts[k][0] < b; k++) {
        const [from, src] = starts[k];
        const to = k + 1 < starts.length ? starts[k + 1][0] : this.s.length;
        const x = Math.max(a, from);
        const y = Math.min(b, to);
        if (x < y) this.text(this.s.slice(x, y), src < 0 ? -1 : src + (x - from), target);
      }
    }

    applyToken(code, into, top) {
      const t = this.token(code);
      if (!t) return;
      if (t.open) {
        this.wrap = t.open;
        this.wrapCount = 0;
        this.wrapper = null;
      } else if (t.close) {
        this.wrap = null;
        this.wrapper = null;
      } else if (t.node) {
        (top ? into : this.out(into)).append(t.node);
      }
    }

    /** Inline content s[a, b) into `into` (null: the block, or the open wrapper). */
    spans(a, b, into) {
      const s = this.s;
      let run = a;
      let i = a;
      while (i < b) {
        const c = s[i];
        let next = null;
        if (this.tokens && TOKEN.test(c)) {
          this.emit(run, i, into);
          this.applyToken(s.charCodeAt(i), into, false);
          next = i + 1;
        } else if (c === "\\" && i + 1 < b && PUNCT.test(s[i + 1])) {
          this.emit(run, i, into);
          this.emit(i + 1, i + 2, into);
          next = i + 2;
        } else if (c === "`") {
          next = this.codeSpan(i, b, run, into);
        } else if (c === "*" || c === "_") {
          next = this.emphasis(i, b, run, into);
        } else if (c === "[" || (c === "!" && s[i + 1] === "[")) {
          next = this.link(i, b, run, into);
        } else if (c === "<") {
          next = this.autolink(i, b, run, into);
        }
        if (next === null) {
          i++;
        } else if (next < 0) {
          i = -next; // not a construct: its characters stay in the text run
        } else {
          run = i = next;
        }
      }
      this.emit(run, b, into);
    }

    // Each construct returns where the text continues: after it (> i) when it rendered it (having
    // emitted the run of text before it), or minus that position when its characters are text.

    /** Remembered failures: no closer of `key` at or after a position, so never looked for twice. */
    failed(key, from) {
      const at = this.memo.get(key);
      return at !== undefined && from >= at;
    }

    fail(key, from) {
      const at = this.memo.get(key);
      if (at === undefined || from < at) this.memo.set(key, from);
    }

    codeSpan(i, b, run, into) {
      const s = this.s;
      let n = 1;
      while (i + n < b && s[i + n] === "`") n++;
      const key = `code${n}:${b}`;
      if (this.failed(key, i + n)) return -(i + n);
      let j = i + n;
      for (;;) {
        j = s.indexOf("`", j);
        if (j < 0 || j >= b) {
          this.fail(key, i + n);
          return -(i + n); // no closer: the backticks are text
        }
        let m = 1;
        while (j + m < b && s[j + m] === "`") m++;
        if (m === n) break;
        j += m;
      }
      this.emit(run, i, into);
      let lo = i + n;
      let hi = j;
      const inner = s.slice(lo, hi);
      if (inner.length > 2 && inner[0] === " " && inner[inner.length - 1] === " " && inner.trim()) {
        lo++;
        hi--;
      }
      const code = document.createElement("code");
      const after = [];
      for (let k = lo, r = lo; k <= hi; k++) {
        if (k === hi || (this.tokens && TOKEN.test(s[k]))) {
          this.emit(r, k, code);
          if (k < hi) after.push(s.charCodeAt(k));
          r = k + 1;
        }
      }
      this.out(into).append(code);
      for (const t of after) this.applyToken(t, into, false);
      return j + n;
    }

    emphasis(i, b, run, into) {
      const s = this.s;
      const c = s[i];
      let n = 1;
      while (i + n < b && s[i + n] === c) n++;
      const before = i > 0 ? s[i - 1] : " ";
      const afterRun = i + n < b ? s[i + n] : " ";
      // An opener is followed by non-space; `_` inside a word (snake_case) is never one.
      if (SPACE.test(afterRun) || (c === "_" && ALNUM.test(before))) return -(i + n);
      for (const len of n >= 3 ? [3, 2, 1] : n === 2 ? [2, 1] : [1]) {
        const j = this.closer(c, len, i + len, b);
        if (j < 0) continue;
        this.emit(run, i, into);
        const node = document.createElement(len === 1 ? "em" : "strong");
        this.out(into).append(node);
        let inner = node;
        if (len === 3) node.append((inner = document.createElement("em")));
        this.spans(i + len, j, inner);
        return j + len;
      }
      return -(i + n);
    }

    /** The first valid closing run of `len` characters `c` in [from, b), or -1. */
    closer(c, len, from, b) {
      const key = `${c}${len}:${b}`;
      if (this.failed(key, from)) return -1;
      const s = this.s;
      for (let j = s.indexOf(c, from); j >= 0 && j + len <= b; j = s.indexOf(c, j + 1)) {
        let m = 1;
        while (j + m < b && s[j + m] === c) m++;
        if (s[j - 1] === "\\") continue;
        // A closer follows non-space; `_` before a word character is not one; a single * or _
        // does not close on a run of two (that is a strong delimiter).
        const fits = len === 1 ? m !== 2 : m >= len;
        if (fits && j > from && !SPACE.test(s[j - 1])) {
          const next = j + len < b ? s[j + len] : " ";
          if (!(c === "_" && ALNUM.test(next))) return j;
        }
        j += m - 1;
      }
      this.fail(key, from);
      return -1;
    }

    link(i, b, run, into) {
      const s = this.s;
      const image = s[i] === "!";
      const open = image ? i + 1 : i;
      // The matching ] (brackets may nest), then (url "optional title").
      let depth = 0;
      let close = -1;
      const limit = Math.min(b, open + 2000);
      if (this.failed(`]:${b}`, open)) return -(open + 1);
      for (let k = open; k < limit; k++) {
        if (s[k] === "\\") k++;
        else if (s[k] === "[") depth++;
        else if (s[k] === "]" && --depth === 0) {
          close = k;
          break;
        }
      }
      if (close < 0) {
        if (limit === b && s.indexOf("]", open) < 0) this.fail(`]:${b}`, open);
        return -(open + 1);
      }
      const m = /^\(\s*<?([^\s()<>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/.exec(s.slice(close + 1, Math.min(b, close + 2050)));
      if (!m) return -(open + 1);
      this.emit(run, i, into);
      const href = safeUrl(m[1]);
      let node;
      if (image) {
        node = document.createElement("span");
        node.className = "image-alt";
        node.title = "An image (not loaded)";
      } else if (href) {
        node = document.createElement("a");
        node.href = href;
        node.rel = "noopener noreferrer nofollow";
        node.target = "_blank";
        node.referrerPolicy = "no-referrer";
      } else {
        node = document.createElement("span");
        node.className = "link-text";
      }
      this.out(into).append(node);
      this.spans(open + 1, close, node);
      return close + 1 + m[0].length;
    }

    autolink(i, b, run, into) {
      const m = /^<(https?:\/\/[^\s<>]{1,2000})>/i.exec(this.s.slice(i, Math.min(b, i + 2010)));
      const href = m && safeUrl(m[1]);
      if (!href) return -(i + 1);
      this.emit(run, i, into);
      const a = document.createElement("a");
      a.href = href;
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      a.referrerPolicy = "no-referrer";
      this.out(into).append(a);
      this.emit(i + 1, i + 1 + m[1].length, a);
      return i + m[0].length;
    }
  }

  /** `url` if it is an absolute http(s) URL, else null (javascript:, data:, relative, ...). */
  function safeUrl(url) {
    if (!/^https?:\/\//i.test(url)) return null;
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch {
      return null;
    }
  }

  /**
   * Render Markdown `src` as DOM nodes (a DocumentFragment); never parses HTML.
   * opts.onText(node, offset): each text node and where its characters are in `src`.
   * opts.tokens: private-use characters (U+E000–U+F8FF) are tokens; opts.token(code) returns
   *   {node}, {open: (first) => element} (inline content goes into that element until {close}),
   *   {close: true}, or null (dropped).
   * opts.headingShift: added to heading levels (default 2: # is <h3>, under the page's own).
   */
  function render(src, opts = {}) {
    const fragment = document.createDocumentFragment();
    const r = new Renderer(opts);
    r.src = String(src);
    r.blocks(splitLines(r.src), fragment);
    return fragment;
  }

  /** `text` with any private-use characters replaced, so none can pose as a token. */
  function untokened(text) {
    return String(text).replace(TOKEN_G, "\uFFFD");
  }

  window.QAMarkdown = { render, untokened, safeUrl, TOKEN_BASE: 0xe000 };
})();
