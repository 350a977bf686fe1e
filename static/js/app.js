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
