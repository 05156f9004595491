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

  // Settings and recently used codes stay in this browser (localStorage), per user and
  // project: no request and no query is spent on them. A browser that refuses storage
  // (private mode) simply has none.
  const storage = (() => {
    try {
      return window.localStorage;
    } catch {
      return null;
    }
  })();
  function stored(key, fallback) {
    try {
      const value = JSON.parse(storage?.getItem(`sco-annotate:${key}`) ?? "null");
      return value ?? fallback;
    } catch {
      return fallback;
    }
  }
  function store(key, value) {
    try {
      storage?.setItem(`sco-annotate:${key}`, JSON.stringify(value));
    } catch {
      // Storage full or refused: the setting lasts until the page is left.
    }
  }

  // ---- The tag chooser --------------------------------------------------------------------

  const chooser = () => byId("highlight-form");
  const chooserOpen = () => {
    const form = chooser();
    return Boolean(form && !form.hidden);
  };
  const RECENT_LIMIT = 5;
  const recentKey = (form) => `recent:${form.dataset.user}:${form.dataset.project}`;
  const recentCodes = (form) => {
    const codes = stored(recentKey(form), []);
    return Array.isArray(codes) ? codes.filter((code) => typeof code === "string") : [];
  };
  const oneClickSaves = () => stored("one-click", true) !== false;

  function setTag(button, pressed) {
    button.setAttribute("aria-pressed", String(pressed));
    const box = byId(`choose-${button.dataset.tag}`);
    if (box) box.checked = pressed;
  }

  const pressedTags = (form) => [...form.querySelectorAll('.tag-button[aria-pressed="true"]')];

  // The codes shown, in the order shown (recent ones are moved up with CSS `order`).
  function shownButtons(form) {
    const choices = [...form.querySelectorAll(".tag-choice:not([hidden])")];
    choices.sort((a, b) => (Number(a.style.order) || 0) - (Number(b.style.order) || 0));
    return choices.map((choice) => choice.querySelector(".tag-button"));
  }

  // Recently used codes first, under their own heading; the rest in codebook order.
  function orderChoices(form) {
    const recent = recentCodes(form);
    let found = 0;
    for (const choice of form.querySelectorAll(".tag-choice")) {
      const rank = recent.indexOf(choice.dataset.tag);
      choice.classList.toggle("recent", rank >= 0);
      choice.style.order = rank >= 0 ? String(rank - RECENT_LIMIT) : "";
      if (rank >= 0) found += 1;
    }
    const recentHeading = byId("recent-heading");
    if (recentHeading) recentHeading.style.order = String(-RECENT_LIMIT - 1);
    for (const heading of [recentHeading, byId("all-heading")]) if (heading) heading.hidden = !found;
  }

  // Narrow the codes to those whose name (or a parent's) contains the typed text, or whose
  // shortcut is the typed key.
  function filterChoices(form) {
    const query = (byId("chooser-filter")?.value || "").trim().toLowerCase();
    orderChoices(form);
    let shown = 0;
    for (const choice of form.querySelectorAll(".tag-choice")) {
      const shortcut = (choice.querySelector(".tag-button")?.dataset.shortcut || "").toLowerCase();
      const match = !query || choice.dataset.name.includes(query) || shortcut === query;
      choice.hidden = !match;
      if (match) shown += 1;
      // While searching, codebook order, but the code whose key was typed comes first.
      if (query) choice.style.order = shortcut === query ? "-1" : "";
    }
    const recentShown = form.querySelector(".tag-choice.recent:not([hidden])");
    byId("recent-heading").hidden = Boolean(query) || !recentShown;
    byId("all-heading").hidden = Boolean(query) || !recentShown;
    byId("chooser-none").hidden = shown > 0;
    const count = byId("chooser-count");
    if (count) count.textContent = query ? `${shown} ${shown === 1 ? "code matches" : "codes match"}.` : "";
  }

  function resetChooser(form) {
    form.reset();
    for (const button of form.querySelectorAll(".tag-button")) setTag(button, false);
    const errors = byId("chooser-errors");
    if (errors) errors.replaceChildren();
    const oneClick = byId("chooser-one-click");
    if (oneClick) oneClick.checked = oneClickSaves();
    filterChoices(form);
  }

  // Below the selection when the chooser fits there, else above it, else on the side with
  // more room, never taller than the viewport: its list of codes scrolls inside it, and the
  // note and Save stay in view.
  function placeChooser(form, rect) {
    const margin = 8;
    const viewHeight = document.documentElement.clientHeight;
    const viewWidth = document.documentElement.clientWidth;
    form.style.maxHeight = "";
    const natural = form.offsetHeight;
    const below = viewHeight - rect.bottom - 2 * margin;
    const above = rect.top - 2 * margin;
    const useful = Math.min(natural, 260);
    let top;
    let height = natural;
    if (natural <= below) {
      top = rect.bottom + margin;
    } else if (natural <= above) {
      top = rect.top - margin - natural;
    } else if (Math.max(below, above) >= useful) {
      height = Math.max(below, above);
      top = below >= above ? rect.bottom + margin : rect.top - margin - height;
    } else {
      // A selection as tall as the screen: cover part of it rather than leave the screen.
      height = Math.min(natural, viewHeight - 2 * margin);
      top = Math.min(Math.max(margin, rect.bottom + margin), viewHeight - margin - height);
    }
    form.style.maxHeight = `${height}px`;
    form.style.top = `${window.scrollY + top}px`;
    const left = Math.min(
      Math.max(margin, rect.left),
      viewWidth - form.offsetWidth - margin,
    );
    form.style.left = `${window.scrollX + Math.max(margin, left)}px`;
  }

  function openChooser(found, focus) {
    const form = chooser();
    if (!form) return;
    if (form.hidden) resetChooser(form);
    form.elements.start.value = String(found.start);
    form.elements.end.value = String(found.end);
    form.elements.quote.value = found.quote;
    const shown = found.quote.length > 200 ? `${found.quote.slice(0, 200)}…` : found.quote;
    byId("chooser-quote").textContent = shown;
    form.hidden = false;
    placeChooser(form, found.rect);
    // After a mouse selection, focus the chooser (not a field: the text selection stays).
    // After a keyboard selection, leave the focus where it is, so that the selection can
    // still be extended; shortcut keys and Enter work either way, Tab moves into the chooser.
    // From "select with keys", Enter opened it on purpose: straight to the search box.
    if (focus === "filter") byId("chooser-filter")?.focus({ preventScroll: true });
    else if (focus) form.focus({ preventScroll: true });
  }

  function closeChooser() {
    const form = chooser();
    if (!form || form.hidden) return;
    form.hidden = true;
    if (keyMode) byId("document-text")?.focus({ preventScroll: true });
  }

  function saveChooser(form) {
    // Enter with no code chosen takes the code in focus, or the first one shown.
    if (!pressedTags(form).length) {
      const focused = document.activeElement?.closest?.(".tag-button");
      const button = form.contains(focused) ? focused : shownButtons(form)[0];
      if (button) setTag(button, true);
    }
    form.requestSubmit();
  }

  function moveInChooser(form, from, step) {
    const buttons = shownButtons(form);
    const at = buttons.indexOf(from.closest?.(".tag-button"));
    const next = at < 0 ? (step > 0 ? 0 : buttons.length - 1) : at + step;
    if (next < 0) byId("chooser-filter")?.focus();
    else buttons[Math.min(next, buttons.length - 1)]?.focus();
  }

  // ---- Changing an annotation's extent ----------------------------------------------------

  // While a card shows its "change extent" form, a new selection goes to that form instead of
  // opening the chooser.
  const extentForm = () => document.querySelector("form.extent-form");

  function takeExtent(form, found) {
    form.elements.start.value = String(found.start);
    form.elements.end.value = String(found.end);
    form.elements.quote.value = found.quote;
    const shown = found.quote.length > 200 ? `${found.quote.slice(0, 200)}…` : found.quote;
    const quote = form.querySelector(".extent-new");
    if (quote) quote.textContent = shown;
    form.querySelector(".extent-chosen")?.removeAttribute("hidden");
    const save = form.querySelector('button[type="submit"]');
    if (save) save.disabled = false;
    announce(`New extent: ${shown}. Press Save extent to keep it.`);
  }

  // ---- Selecting with the keyboard --------------------------------------------------------

  // "Select with keys": a caret in the text that the arrows move by word (left, right) and by
  // sentence (up, down); with Shift they extend the selection. Enter tags it, Escape ends.
  let keyMode = false;

  function announce(message) {
    const live = byId("key-select-status");
    if (live) live.textContent = message;
  }

  function describeSelection() {
    const selection = document.getSelection();
    if (!selection?.rangeCount) return;
    const text = selection.toString().trim();
    if (text) {
      const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
      announce(`Selected ${codePoints(text)} characters: ${shown}`);
      return;
    }
    // A caret: read the words after it.
    const range = selection.getRangeAt(0).cloneRange();
    const node = range.startContainer;
    const after = node.nodeType === Node.TEXT_NODE ? node.data.slice(range.startOffset) : "";
    announce(`Caret before: ${after.trim().slice(0, 60) || "the end of a paragraph"}`);
  }

  function firstVisibleParagraph(root) {
    for (const paragraph of root.children) {
      const rect = paragraph.getBoundingClientRect();
      if (rect.bottom > 0 && paragraph.textContent.trim()) return paragraph;
    }
    return root.firstElementChild;
  }

  function setKeyMode(on) {
    const root = byId("document-text");
    const toggle = byId("key-select");
    if (!root || !toggle) return;
    keyMode = on;
    toggle.setAttribute("aria-pressed", String(on));
    byId("key-select-help").hidden = !on;
    root.classList.toggle("key-selecting", on);
    if (!on) {
      root.removeAttribute("tabindex");
      announce("Selecting with keys is off.");
      return;
    }
    root.tabIndex = -1;
    const selection = document.getSelection();
    const inside = selection?.rangeCount && root.contains(selection.getRangeAt(0).startContainer);
    if (!inside) {
      const paragraph = firstVisibleParagraph(root);
      const walker = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
      const node = walker.nextNode();
      if (node) selection.collapse(node, 0);
    }
    root.focus({ preventScroll: true });
    announce("Selecting with keys. Arrows move by word, up and down by sentence; hold Shift to select. Enter tags the selection, Escape stops.");
  }

  const KEY_MOVES = {
    ArrowRight: ["right", "word"],
    ArrowLeft: ["left", "word"],
    ArrowDown: ["forward", "sentence"],
    ArrowUp: ["backward", "sentence"],
  };

  function keySelect(event) {
    const root = byId("document-text");
    const selection = document.getSelection();
    if (!root || !selection) return false;
    if (event.key === "Escape") {
      setKeyMode(false);
      byId("key-select")?.focus();
      return true;
    }
    if (event.key === "Enter") {
      const found = readSelection();
      if (!found) {
        announce("Nothing is selected: hold Shift and use the arrows to select text first.");
      } else if (found.error) {
        announce(found.error);
      } else if (extentForm()) {
        takeExtent(extentForm(), found);
        extentForm().querySelector('button[type="submit"]')?.focus();
      } else {
        openChooser(found, "filter");
        announce("Tag chooser open: type to find a code, arrows to move, Space to choose, Enter to save.");
      }
      return true;
    }
    const move = KEY_MOVES[event.key];
    if (!move || event.altKey || event.ctrlKey || event.metaKey) return false;
    selection.modify(event.shiftKey ? "extend" : "move", move[0], move[1]);
    describeSelection();
    const focusNode = selection.focusNode;
    const element = focusNode?.nodeType === Node.TEXT_NODE ? focusNode.parentElement : focusNode;
    element?.scrollIntoView?.({ block: "nearest" });
    return true;
  }

  // ---- Pointer and keyboard events --------------------------------------------------------

  let pointerDown = false;
  let pointerSelection = false;
  let pending = 0;
  // A highlight that starts a passage is focusable (tabindex), so that the keyboard reaches its
  // summary; but a press on a focusable element focuses it instead of starting a selection.
  // While the button is down, that highlight is not focusable.
  let unfocusable = null;

  function selectionSettled() {
    const form = chooser();
    // Never while the mouse is still selecting: focusing the chooser would end the drag.
    // While selecting with keys, the caret moves at every key: Enter opens the chooser.
    if (pointerDown || (keyMode && !pointerSelection)) return;
    if (form?.contains(document.activeElement) && form.contains(document.getSelection()?.anchorNode))
      return;
    const found = readSelection();
    if (!found) return;
    if (found.error) {
      say(found.error);
      closeChooser();
      return;
    }
    say("");
    const extent = extentForm();
    if (extent) takeExtent(extent, found);
    else if (form) openChooser(found, pointerSelection);
  }

  function scheduleSelection() {
    window.clearTimeout(pending);
    pending = window.setTimeout(selectionSettled, 150);
  }

  function restoreFocusable() {
    if (unfocusable) unfocusable.tabIndex = 0;
    unfocusable = null;
  }

  document.addEventListener(
    "mousedown",
    (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const mark = target?.closest("#document-text mark[tabindex]");
      if (mark && event.button === 0) {
        mark.removeAttribute("tabindex");
        unfocusable = mark;
      }
      // Shift+click on a code chooses it without saving: it must not extend the selection.
      if (event.shiftKey && chooser()?.contains(target) && target?.closest("button")) {
        event.preventDefault();
      }
    },
    true,
  );
  document.addEventListener("mousedown", (event) => {
    if (chooser()?.contains(event.target)) return;
    // A click elsewhere dismisses the chooser; a new selection opens it again on mouseup.
    closeChooser();
    window.clearTimeout(pending);
    pointerDown = true;
  });
  document.addEventListener("mouseup", () => {
    restoreFocusable();
    if (!pointerDown) return;
    pointerDown = false;
    pointerSelection = true;
    scheduleSelection();
  });
  // A press on text that is already selected drags it and never sends mouseup: the
  // press is over all the same, or the chooser and the hover cards would stay off.
  document.addEventListener("dragend", () => {
    restoreFocusable();
    pointerDown = false;
  });
  // Keyboard selection (and selections made by assistive technology) end here.
  document.addEventListener("selectionchange", () => {
    if (!pointerDown) scheduleSelection();
  });

  function chooserKeys(event, form) {
    const target = event.target instanceof Element ? event.target : null;
    const inForm = form.contains(target);
    if (event.key === "Escape") {
      closeChooser();
      return true;
    }
    if (event.key === "Tab" && !inForm) {
      (shownButtons(form)[0] || byId("chooser-filter"))?.focus();
      return true;
    }
    const filter = byId("chooser-filter");
    if (inForm && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      if (target.closest("textarea")) return false;
      moveInChooser(form, target, event.key === "ArrowDown" ? 1 : -1);
      return true;
    }
    const inText = byId("document-text")?.contains(target);
    if (event.key === "Enter" && !target?.closest("textarea, #chooser-cancel, .define, [type=checkbox]")) {
      if (inForm || target === document.body || inText) {
        saveChooser(form);
        return true;
      }
      return false;
    }
    const typing = target?.closest("textarea, input, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return false;
    const key = event.key.toLowerCase();
    for (const button of form.querySelectorAll(".tag-button")) {
      if (button.dataset.shortcut && button.dataset.shortcut.toLowerCase() === key) {
        setTag(button, button.getAttribute("aria-pressed") !== "true");
        return true;
      }
    }
    // "/" or any other letter starts a search for a code.
    if (inForm && filter && event.key.length === 1 && event.key !== " ") {
      filter.focus();
      if (event.key !== "/") filter.value += event.key;
      filterChoices(form);
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", (event) => {
    pointerSelection = false;
    const form = chooser();
    if (form && chooserOpen()) {
      if (chooserKeys(event, form)) event.preventDefault();
      return;
    }
    if (keyMode && byId("document-text")?.contains(event.target) && keySelect(event)) {
      event.preventDefault();
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.id === "chooser-filter") filterChoices(chooser());
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    const form = chooser();
    // A refused write (422) counts as "successful" for htmx: it swapped in the message.
    if (!form || event.detail.elt !== form || event.detail.xhr.status !== 200) return;
    const chosen = pressedTags(form).map((button) => button.dataset.tag);
    const end = Number(form.elements.end.value);
    store(recentKey(form), [...chosen, ...recentCodes(form).filter((code) => !chosen.includes(code))].slice(0, RECENT_LIMIT));
    closeChooser();
    resetChooser(form);
    document.getSelection()?.removeAllRanges();
    // Selecting with keys goes on from the end of the passage just tagged.
    const root = byId("document-text");
    const caret = keyMode && root ? domPosition(root, end) : null;
    if (caret) document.getSelection()?.collapse(caret[0], caret[1]);
    const status = byId("workspace-status");
    if (status?.dataset.created) {
      flash(status.dataset.created, false);
      if (keyMode) announce(status.textContent);
    }
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
    const form = chooser();
    if (tagButton && form?.contains(tagButton)) {
      // One click (a pointer's, not Space or Enter) saves that code at once, unless another
      // choice is pending: a code already chosen, a note, or Shift/Ctrl held to choose several.
      const several = event.shiftKey || event.ctrlKey || event.metaKey;
      const pendingChoice = pressedTags(form).some((button) => button !== tagButton) || form.elements.note.value.trim();
      if (event.detail > 0 && !several && !pendingChoice && oneClickSaves()) {
        setTag(tagButton, true);
        form.requestSubmit();
      } else {
        setTag(tagButton, tagButton.getAttribute("aria-pressed") !== "true");
      }
      return;
    }
    if (target.closest("#key-select")) {
      setKeyMode(!keyMode);
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
    if (!(event.target instanceof Element)) return;
    if (event.target.id === "filter-hide-others") {
      byId("document-text")?.classList.toggle("hide-others", event.target.checked);
    }
    if (event.target.id === "chooser-one-click") store("one-click", event.target.checked);
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
