// Colour theme: follows prefers-color-scheme unless the user picks one; the choice is kept in
// localStorage. Loaded in <head> so the page never flashes the wrong theme. No inline script
// exists anywhere (the Content-Security-Policy forbids it).
(function () {
  "use strict";
  var KEY = "sm-theme";
  var ORDER = ["system", "light", "dark"];
  function stored() {
    try { return localStorage.getItem(KEY) || "system"; } catch (e) { return "system"; }
  }
  function apply(choice) {
    var root = document.documentElement;
    if (choice === "light" || choice === "dark") { root.setAttribute("data-theme", choice); }
    else { root.removeAttribute("data-theme"); }
    var labels = document.querySelectorAll("[data-theme-label]");
    for (var i = 0; i < labels.length; i++) { labels[i].textContent = choice; }
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    apply(stored());
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;  // the toggle needs JavaScript, so it only appears with it
      buttons[i].addEventListener("click", function () {
        var next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
        try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: not persisted */ }
        apply(next);
      });
    }
  });
})();

// After an htmx swap: where the keyboard focus goes, what a screen reader hears, and a choice
// made while the request was on its way. The server decides most of it in the markup:
//   - `autofocus` on the new step's heading, or on the field an action filled in (htmx itself
//     focuses it after the swap, and a full page load does the same without JavaScript);
//   - on a 422, the first invalid field (the error summary above it says role=alert);
//   - `data-announce` on the swapped element (or, if it has none, on notices inside it) is read
//     out through the page's #live-status region; a polled element is announced only when its
//     text changes.
(function () {
  "use strict";
  var announced = {};  // element id -> the last text announced for it

  function announceText(el) {
    var text = el.getAttribute("data-announce");
    return (text || el.textContent || "").replace(/\s+/g, " ").trim();
  }

  function announce(text) {
    var region = document.getElementById("live-status");
    if (!region || !text) { return; }
    region.textContent = "";
    // A new text node a moment later, so that the same message twice is read twice.
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function announcements(root, status) {
    if (root.hasAttribute("data-announce")) { return [root]; }
    if (status === 422) { return []; }  // the error summary (role=alert) speaks for itself
    return Array.prototype.slice.call(root.querySelectorAll("[data-announce]"));
  }

  // Form values, by element id: what the user had chosen when a request left.
  function values(form) {
    var out = {};
    if (!form || !form.elements) { return out; }
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      if (!el.id || el.type === "file" || el.type === "submit" || el.type === "button" || el.type === "hidden") { continue; }
      if (el.type === "checkbox" || el.type === "radio") { out[el.id] = el.checked; }
      else if (el.type === "select-multiple") {
        out[el.id] = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; }).join("\n");
      } else { out[el.id] = el.value; }
    }
    return out;
  }

  function apply(el, value) {
    if (el.type === "checkbox" || el.type === "radio") { el.checked = value; return; }
    if (el.tagName === "SELECT") {
      var wanted = el.type === "select-multiple" ? value.split("\n") : [value];
      var known = Array.prototype.some.call(el.options, function (o) { return wanted.indexOf(o.value) >= 0; });
      if (!known && value !== "") { return; }  // no longer offered: the server's answer stands
      for (var i = 0; i < el.options.length; i++) { el.options[i].selected = wanted.indexOf(el.options[i].value) >= 0; }
      return;
    }
    el.value = value;
  }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    var form = elt && (elt.form || (elt.closest && elt.closest("form")));
    evt.detail.xhr.smForm = form || null;
    evt.detail.xhr.smSent = values(form);
  });

  document.addEventListener("htmx:beforeSwap", function (evt) {
    // What changed on the page since the request left: the newer choice, to keep after the swap.
    var xhr = evt.detail.xhr, sent = xhr.smSent, newer = {};
    if (!sent) { return; }
    var now = values(xhr.smForm);
    for (var id in now) {
      if (Object.prototype.hasOwnProperty.call(sent, id) && now[id] !== sent[id]) { newer[id] = now[id]; }
    }
    xhr.smNewer = newer;
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    var root = evt.target, xhr = evt.detail.xhr;
    if (!root || !root.getAttribute || !xhr) { return; }
    var newer = xhr.smNewer || {};
    for (var id in newer) {
      var el = document.getElementById(id);
      if (el) { apply(el, newer[id]); }
    }
    if (xhr.status === 422 && root.hasAttribute("data-focus")) {
      var invalid = root.querySelector('[aria-invalid="true"]:not([disabled])') || root.querySelector(".error-summary");
      if (invalid) { invalid.focus(); }
    }
    var items = announcements(root, xhr.status);
    for (var i = 0; i < items.length; i++) {
      var text = announceText(items[i]), key = items[i].id;
      if (key && announced[key] === text) { continue; }
      if (key) { announced[key] = text; }
      announce(text);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // A polled element is announced when it changes, not when it first appears.
    var present = document.querySelectorAll("[data-announce][id]");
    for (var i = 0; i < present.length; i++) { announced[present[i].id] = announceText(present[i]); }
  });

  // The error summary's links move the focus to the field, not just the scroll position.
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest(".error-summary a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    evt.preventDefault();
    field.focus();
    field.scrollIntoView({ block: "center" });
  });
})();
