// A revealed value: each part's Copy button, and Hide. Both need JavaScript, so they appear only
// with it (without it, the value is selectable text, and reloading the page hides it). Buttons
// that arrive in an htmx swap are shown as they come in.
(function () {
  "use strict";

  function showControls(root) {
    if (!root || !root.querySelectorAll) { return; }
    var buttons = root.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].hidden = false; }
  }

  function say(text) {
    var region = document.getElementById("live-status");
    if (region) { region.textContent = text; }
  }

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button, ok) {
    var name = button.getAttribute("data-copy-name") || "Value";
    say(ok ? name + " copied to the clipboard." : name + " is selected: press Ctrl+C to copy it.");
    button.setAttribute("data-copied", ok ? "yes" : "no");
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("button[data-copy]");
    if (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, true); },
          function () { selectText(source); copied(button, false); }
        );
      } else {
        selectText(source);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        copied(button, ok);
      }
      return;
    }
    var hide = evt.target.closest && evt.target.closest("[data-hide-revealed]");
    if (hide) {
      var region = document.getElementById("revealed");
      if (!region) { return; }  // the link then reloads the page, which shows no value
      evt.preventDefault();
      region.textContent = "";
      say("The value is hidden.");
      var again = document.querySelector("#reveal-form button[type=submit]");
      if (again) { again.focus(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { showControls(document); });
  document.addEventListener("htmx:load", function (evt) { showControls(evt.target); });
})();
