// The analyst workspace: selection → offsets, the tag chooser, the side panel.
// No HTML is built here and fetch() is never called: htmx posts the forms and swaps in the
// server's fragments (and, through htmx.ajax, fetches the summaries shown when hovering a
// highlight whose card is not loaded). Loaded on every page; does nothing where its
// elements are missing.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);

  // Offsets are Unicode code points (Python indexing); JavaScript strings count UTF-16 units.
  const codePoints = (text) => {
    let count = 0;
    for (const _ of text) count += 1;
    return count;
  };

  // Each paragraph is <div id="p<offset>"> inside #document-text: measure from the start of
  // the paragraph, not of the document, so a selection in a 1 MB text stays cheap.
  function paragraphOf(root, node) {
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    const paragraph = element ? element.closest("#document-text > div") : null;
    return paragraph && root.contains(paragraph) ? paragraph : null;
  }

  function textOffset(root, node, offset) {
    const paragraph = paragraphOf(root, node);
    const base = paragraph || root;
    const range = document.createRange();
    range.setStart(base, 0);
    range.setEnd(node, offset);
    return (paragraph ? Number(paragraph.id.slice(1)) : 0) + codePoints(range.toString());
  }

  // The selection as {start, end, quote}, trimmed of whitespace at both ends; {error} when it
  // reaches outside the text; null when there is nothing to tag.
  function readSelection() {
    const root = byId("document-text");
    const selection = document.getSelection();
    if (!root || !selection || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    if (range.collapsed) return null;
    const startInside = root.contains(range.startContainer);
    const endInside = root.contains(range.endContainer);
    if (!startInside && !endInside) return null;
    if (!startInside || !endInside) {
      return { error: "Select text inside the document only: this selection reaches outside it." };
    }
    const raw = range.toString();
    const quote = raw.trim();
    if (!quote) return null;
    // Whitespace characters are all in the Basic Multilingual Plane: one unit, one code point.
    const leading = raw.length - raw.trimStart().length;
    const trailing = raw.length - raw.trimEnd().length;
    const start = textOffset(root, range.startContainer, range.startOffset) + leading;
    const end = textOffset(root, range.endContainer, range.endOffset) - trailing;
    return { start, end, quote, rect: range.getBoundingClientRect() };
  }

  function say(message) {
    const box = byId("selection-message");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ---- The tag chooser --------------------------------------------------------------------

  const chooser = () => byId("highlight-form");
  const chooserOpen = () => {
    const form = chooser();
    return Boolean(form && !form.hidden);
  };

  function setTag(button, pressed) {
    button.setAttribute("aria-pressed", String(pressed));
    const box = byId(`choose-${button.dataset.tag}`);
    if (box) box.checked = pressed;
  }

  function resetChooser(form) {
    form.reset();
    for (const button of form.querySelectorAll(".tag-button")) setTag(button, false);
    const errors = byId("chooser-errors");
    if (errors) errors.replaceChildren();
  }

  function openChooser(found, byPointer) {
    const form = chooser();
    if (!form) return;
    if (form.hidden) resetChooser(form);
    form.elements.start.value = String(found.start);
    form.elements.end.value = String(found.end);
    form.elements.quote.value = found.quote;
    const shown = found.quote.length > 200 ? `${found.quote.slice(0, 200)}…` : found.quote;
    byId("chooser-quote").textContent = shown;
    form.hidden = false;
    const top = window.scrollY + found.rect.bottom + 8;
    const left = Math.min(
      Math.max(8, window.scrollX + found.rect.left),
      window.scrollX + document.documentElement.clientWidth - form.offsetWidth - 8,
    );
    form.style.top = `${top}px`;
    form.style.left = `${Math.max(8, left)}px`;
    // After a mouse selection, focus the chooser (not a field: the text selection stays).
    // After a keyboard selection, leave the focus where it is, so that the selection can
    // still be extended; shortcut keys and Enter work either way, Tab moves into the chooser.
    if (byPointer) form.focus({ preventScroll: true });
  }

  function closeChooser() {
    const form = chooser();
    if (form) form.hidden = true;
  }

  let pointerDown = false;
  let pointerSelection = false;
  let pending = 0;

  function selectionSettled() {
    const form = chooser();
    // Never while the mouse is still selecting: focusing the chooser would end the drag.
    if (!form || pointerDown) return;
    if (form.contains(document.activeElement) && form.contains(document.getSelection()?.anchorNode))
      return;
    const found = readSelection();
    if (!found) return;
    if (found.error) {
      say(found.error);
      closeChooser();
      return;
    }
    say("");
    openChooser(found, pointerSelection);
  }

  function scheduleSelection() {
    window.clearTimeout(pending);
    pending = window.setTimeout(selectionSettled, 150);
  }

  document.addEventListener("mousedown", (event) => {
    if (chooser()?.contains(event.target)) return;
    // A click elsewhere dismisses the chooser; a new selection opens it again on mouseup.
    closeChooser();
    window.clearTimeout(pending);
    pointerDown = true;
  });
  document.addEventListener("mouseup", () => {
    if (!pointerDown) return;
    pointerDown = false;
    pointerSelection = true;
    scheduleSelection();
  });
  // A press on text that is already selected drags it and never sends mouseup: the
  // press is over all the same, or the chooser and the hover cards would stay off.
  document.addEventListener("dragend", () => {
    pointerDown = false;
  });
  // Keyboard selection (and selections made by assistive technology) end here.
  document.addEventListener("selectionchange", () => {
    if (!pointerDown) scheduleSelection();
  });

  document.addEventListener("keydown", (event) => {
    pointerSelection = false;
    if (!chooserOpen()) return;
    const form = chooser();
    if (event.key === "Escape") {
      closeChooser();
      return;
    }
    if (event.key === "Tab" && !form.contains(event.target)) {
      event.preventDefault();
      form.querySelector(".tag-button")?.focus();
      return;
    }
    const typing = event.target.closest?.("textarea, input, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    for (const button of form.querySelectorAll(".tag-button")) {
      if (button.dataset.shortcut && button.dataset.shortcut.toLowerCase() === key) {
        event.preventDefault();
        setTag(button, button.getAttribute("aria-pressed") !== "true");
        return;
      }
    }
    const inText = byId("document-text")?.contains(event.target);
    if (event.key === "Enter" && (event.target === form || event.target === document.body || inText)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    const form = chooser();
    // A refused write (422) counts as "successful" for htmx: it swapped in the message.
    if (!form || event.detail.elt !== form || event.detail.xhr.status !== 200) return;
    closeChooser();
    resetChooser(form);
    document.getSelection()?.removeAllRanges();
    const status = byId("workspace-status");
    if (status?.dataset.created) flash(status.dataset.created, false);
  });

  // ---- Highlights and the side panel ------------------------------------------------------

  function marksOf(id) {
    const root = byId("document-text");
    return root ? root.querySelectorAll(`mark[data-a~="${CSS.escape(id)}"]`) : [];
  }

  function flash(id, scroll) {
    const marks = marksOf(id);
    if (!marks.length) return;
    if (scroll) marks[0].scrollIntoView({ block: "center" });
    for (const mark of marks) {
      mark.classList.remove("flash");
      void mark.offsetWidth; // restart the animation
      mark.classList.add("flash");
    }
    for (const card of document.querySelectorAll(".card.current")) card.classList.remove("current");
    byId(`card-${id}`)?.classList.add("current");
  }

  // A text position (code points from the start of the document) as a DOM position.
  function domPosition(root, offset) {
    let paragraph = null;
    for (const div of root.children) {
      if (Number(div.id.slice(1)) > offset) break;
      paragraph = div;
    }
    if (!paragraph) return null;
    let left = offset - Number(paragraph.id.slice(1));
    const walker = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      let unit = 0;
      for (const char of node.data) {
        if (left === 0) return [node, unit];
        left -= 1;
        unit += char.length;
      }
      if (left === 0) return [node, unit];
    }
    return null;
  }

  // #t<start>-<end>, from a search hit: select that text, ready to be tagged.
  function selectFromHash(start, end) {
    const root = byId("document-text");
    const from = root && domPosition(root, start);
    const to = root && domPosition(root, end);
    if (!from || !to) return;
    const range = document.createRange();
    range.setStart(from[0], from[1]);
    range.setEnd(to[0], to[1]);
    const selection = document.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    from[0].parentElement?.scrollIntoView({ block: "center" });
  }

  function showFromHash() {
    const match = /^#a(\d+)$/.exec(window.location.hash);
    if (match) flash(match[1], true);
    const span = /^#t(\d+)-(\d+)$/.exec(window.location.hash);
    if (span) selectFromHash(Number(span[1]), Number(span[2]));
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const tagButton = target.closest(".tag-button");
    if (tagButton) {
      setTag(tagButton, tagButton.getAttribute("aria-pressed") !== "true");
      return;
    }
    const define = target.closest(".define");
    if (define) {
      const definition = byId(define.getAttribute("aria-controls"));
      const open = define.getAttribute("aria-expanded") !== "true";
      define.setAttribute("aria-expanded", String(open));
      if (definition) definition.hidden = !open;
      return;
    }
    if (target.closest("#chooser-cancel")) {
      closeChooser();
      return;
    }
    const link = target.closest(".card-link");
    if (link) {
      event.preventDefault();
      window.history.replaceState(null, "", link.hash);
      flash(link.dataset.annotation, true);
    }
  });

  // Hovering or focusing a highlight shows its annotations' summaries: cloned from the side
  // panel when their cards are loaded there, else fetched (by htmx) from the server.
  function showCards(mark) {
    const tip = byId("hover-card");
    const root = byId("document-text");
    if (!tip || !root) return;
    const ids = mark.dataset.a.split(" ");
    const summaries = ids
      .map((id) => byId(`card-${id}`)?.querySelector(".card-summary"))
      .filter(Boolean)
      .map((summary) => summary.cloneNode(true));
    if (summaries.length === ids.length) {
      tip.replaceChildren(...summaries);
    } else {
      tip.replaceChildren();
      htmx.ajax("GET", `${root.dataset.summaries}?ids=${ids.join(",")}`, {
        target: "#hover-card",
        swap: "innerHTML",
      });
    }
    const rect = mark.getBoundingClientRect();
    tip.hidden = false;
    tip.style.top = `${window.scrollY + rect.bottom + 4}px`;
    tip.style.left = `${Math.max(8, window.scrollX + rect.left)}px`;
  }

  function hideCards() {
    const tip = byId("hover-card");
    if (tip) tip.hidden = true;
  }

  for (const [show, hide] of [
    ["mouseover", "mouseout"],
    ["focusin", "focusout"],
  ]) {
    document.addEventListener(show, (event) => {
      const mark = event.target instanceof Element ? event.target.closest("mark.hl") : null;
      if (mark && !pointerDown) showCards(mark);
    });
    document.addEventListener(hide, (event) => {
      if (event.target instanceof Element && event.target.closest("mark.hl")) hideCards();
    });
  }

  // The side panel's filters are applied by the server (htmx); hiding others' highlights in
  // the text is immediate.
  document.addEventListener("change", (event) => {
    if (event.target instanceof Element && event.target.id === "filter-hide-others") {
      byId("document-text")?.classList.toggle("hide-others", event.target.checked);
    }
  });

  // A new annotation's card arrives in #new-card-slot: move it to its place in text order
  // among the cards shown, or drop it when it falls among cards not loaded yet.
  const orderOf = (card) => [card.dataset.start, card.dataset.end, card.dataset.annotation].map(Number);
  const before = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const slot = byId("new-card-slot");
    const list = byId("annotation-list");
    if (!slot || !list || event.detail.target !== slot) return;
    for (const card of [...slot.children]) {
      const order = orderOf(card);
      const cards = list.querySelectorAll(":scope > .card");
      const next = [...cards].find((other) => before(orderOf(other), order) > 0);
      if (next) list.insertBefore(card, next);
      else if (!byId("more-cards")) list.append(card);
      else card.remove();
    }
    list.querySelector(":scope > .empty")?.remove();
  });

  window.addEventListener("hashchange", showFromHash);
  showFromHash();
})();
