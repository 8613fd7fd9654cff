// A small Markdown renderer for model output. It builds DOM nodes with createElement and
// createTextNode only (never innerHTML), so text from a model can never become markup or script.
// Supported: paragraphs, headings, fenced code (unclosed fences too, for streaming), lists,
// blockquotes, rules, tables, `code`, **strong**, *em*, ~~del~~, [links](https://...) and bare
// http(s) URLs. Links keep only http, https and mailto targets; images are shown as links.
"use strict";
(function () {
  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
  const QUOTE = /^ {0,3}> ?/;
  const ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
  const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeUrl(raw) {
    try {
      const url = new URL(raw, window.location.href);
      return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function copyText(text, button) {
    const done = () => {
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = old; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  }

  function fallbackCopy(text, done) {
    const area = el("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (_) { /* nothing to copy into */ }
    area.remove();
  }

  // -- inline ------------------------------------------------------------------------------

  function isWordChar(ch) { return !!ch && /[\p{L}\p{N}]/u.test(ch); }

  function findClosing(text, delim, from) {
    let at = text.indexOf(delim, from);
    while (at !== -1) {
      if (at > from && !/\s/.test(text[at - 1])) {
        if (delim[0] !== "_" || !isWordChar(text[at + delim.length])) return at;
      }
      at = text.indexOf(delim, at + 1);
    }
    return -1;
  }

  function inline(text, parent) {
    let buffer = "";
    const flush = () => {
      if (buffer) parent.appendChild(document.createTextNode(buffer));
      buffer = "";
    };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      const rest = text.slice(i);
      if (ch === "\\" && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
        buffer += text[i + 1];
        i += 2;
        continue;
      }
      if (ch === "`") {
        const run = /^`+/.exec(rest)[0];
        const end = text.indexOf(run, i + run.length);
        if (end !== -1) {
          flush();
          parent.appendChild(el("code", "", text.slice(i + run.length, end).replace(/^ (.*) $/s, "$1")));
          i = end + run.length;
          continue;
        }
        buffer += run;
        i += run.length;
        continue;
      }
      if (ch === "[" || (ch === "!" && text[i + 1] === "[")) {
        const m = /^!?\[([^\]\n]*)\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/.exec(rest);
        if (m) {
          const href = safeUrl(m[2]);
          flush();
          if (href) {
            const a = el("a");
            a.href = href;
            a.rel = "noopener noreferrer nofollow";
            a.target = "_blank";
            inline(m[1] || m[2], a);
            parent.appendChild(a);
          } else {
            inline(m[1], parent);
          }
          i += m[0].length;
          continue;
        }
      }
      if ((ch === "h") && !isWordChar(text[i - 1])) {
        const m = /^https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]/.exec(rest);
        if (m) {
          const href = safeUrl(m[0]);
          if (href) {
            flush();
            const a = el("a", "", m[0]);
            a.href = href;
            a.rel = "noopener noreferrer nofollow";
            a.target = "_blank";
            parent.appendChild(a);
            i += m[0].length;
            continue;
          }
        }
      }
      if (ch === "*" || ch === "_" || ch === "~") {
        const run = new RegExp("^\\" + ch + "+").exec(rest)[0];
        if (run.length > 2) { buffer += run; i += run.length; continue; }
        const double = run.length === 2;
        const delim = double ? ch + ch : ch;
        const openOk = !/\s/.test(text[i + delim.length] || " ") && !(ch === "_" && isWordChar(text[i - 1]));
        if (openOk && (ch !== "~" || double)) {
          const end = findClosing(text, delim, i + delim.length);
          if (end !== -1) {
            flush();
            const tag = ch === "~" ? "del" : double ? "strong" : "em";
            const node = el(tag);
            inline(text.slice(i + delim.length, end), node);
            parent.appendChild(node);
            i = end + delim.length;
            continue;
          }
        }
        buffer += run;
        i += run.length;
        continue;
      }
      buffer += ch;
      i += 1;
    }
    flush();
  }

  function inlineLines(lines, parent) {
    lines.forEach((line, n) => {
      if (n > 0) parent.appendChild(el("br"));
      inline(line.trim(), parent);
    });
  }

  // -- blocks ------------------------------------------------------------------------------

  function codeBlock(code, lang) {
    const wrap = el("div", "code");
    const pre = el("pre");
    const codeNode = el("code", lang ? "language-" + lang.replace(/[^\w+-]/g, "") : "", code);
    pre.appendChild(codeNode);
    const button = el("button", "copy-code", "Copy");
    button.type = "button";
    button.addEventListener("click", () => copyText(code, button));
    if (lang) wrap.appendChild(el("span", "lang", lang));
    wrap.appendChild(button);
    wrap.appendChild(pre);
    return wrap;
  }

  function splitRow(line) {
    let row = line.trim();
    if (row.startsWith("|")) row = row.slice(1);
    if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
    return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
  }

  function startsBlock(line, next) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
      ITEM.test(line) || (line.includes("|") && next !== undefined && TABLE_SEP.test(next));
  }

  function blocks(lines, parent) {
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) { i += 1; continue; }
      let m = FENCE.exec(line);
      if (m) {
        const fence = m[1];
        const body = [];
        i += 1;
        while (i < lines.length) {
          const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[i]);
          if (close && close[1][0] === fence[0] && close[1].length >= fence.length) { i += 1; break; }
          body.push(lines[i]);
          i += 1;
        }
        parent.appendChild(codeBlock(body.join("\n"), m[2]));
        continue;
      }
      m = HEADING.exec(line);
      if (m) {
        const h = el("h" + m[1].length);
        inline(m[2], h);
        parent.appendChild(h);
        i += 1;
        continue;
      }
      if (RULE.test(line)) { parent.appendChild(el("hr")); i += 1; continue; }
      if (QUOTE.test(line)) {
        const inner = [];
        while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) {
          inner.push(lines[i].replace(QUOTE, ""));
          i += 1;
        }
        const quote = el("blockquote");
        blocks(inner, quote);
        parent.appendChild(quote);
        continue;
      }
      m = ITEM.exec(line);
      if (m) {
        const ordered = /\d/.test(m[2]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
        const indent = m[1].length;
        while (i < lines.length) {
          const item = ITEM.exec(lines[i]);
          if (!item || item[1].length !== indent || /\d/.test(item[2]) !== ordered) break;
          const body = [item[3]];
          i += 1;
          while (i < lines.length) {
            const next = lines[i];
            const nested = ITEM.exec(next);
            if (!next.trim()) {
              if (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]) && !ITEM.exec(lines[i + 1])) {
                body.push("");
                i += 1;
                continue;
              }
              break;
            }
            if (nested && nested[1].length <= indent) break;
            if (!nested && !/^\s/.test(next) && startsBlock(next, lines[i + 1])) break;
            body.push(next.slice(Math.min(indent + 2, next.length - next.trimStart().length)));
            i += 1;
          }
          const li = el("li");
          const nestedAt = body.findIndex((text, n) => n > 0 && ITEM.test(text));
          const head = nestedAt === -1 ? body : body.slice(0, nestedAt);
          inlineLines(head.filter((text) => text.trim()), li);
          if (nestedAt !== -1) blocks(body.slice(nestedAt), li);
          list.appendChild(li);
        }
        parent.appendChild(list);
        continue;
      }
      if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
        const table = el("table");
        const head = el("tr");
        splitRow(line).forEach((cell) => { const th = el("th"); inline(cell, th); head.appendChild(th); });
        const thead = el("thead");
        thead.appendChild(head);
        table.appendChild(thead);
        const tbody = el("tbody");
        i += 2;
        while (i < lines.length && lines[i].includes("|") && lines[i].trim()) {
          const tr = el("tr");
          splitRow(lines[i]).forEach((cell) => { const td = el("td"); inline(cell, td); tr.appendChild(td); });
          tbody.appendChild(tr);
          i += 1;
        }
        table.appendChild(tbody);
        parent.appendChild(table);
        continue;
      }
      const para = [line];
      i += 1;
      while (i < lines.length && lines[i].trim() && !startsBlock(lines[i], lines[i + 1])) {
        para.push(lines[i]);
        i += 1;
      }
      const p = el("p");
      inlineLines(para, p);
      parent.appendChild(p);
    }
  }

  function render(text) {
    const root = document.createDocumentFragment();
    blocks(String(text).replace(/\r\n?/g, "\n").split("\n"), root);
    return root;
  }

  window.GeppettoMarkdown = { render, copyText };
})();
