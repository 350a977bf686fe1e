// Starts Swagger UI on /api/v2/swagger-ui (templates/api/swagger_ui.html). It lives in a static
// file because the Content-Security-Policy forbids inline script; the page tells it where the
// OpenAPI document is through data-openapi-url. The colour theme follows the console's choice
// (localStorage "sm-theme", see app.js), else the system preference, through Swagger UI's own
// dark-mode stylesheet rules.
(function () {
  "use strict";
  function wantsDark() {
    var choice = "system";
    try { choice = localStorage.getItem("sm-theme") || "system"; } catch (e) { /* private mode */ }
    if (choice === "light" || choice === "dark") { return choice === "dark"; }
    return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  }
  document.documentElement.classList.toggle("dark-mode", wantsDark());

  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    displayOperationId: true,
    validatorUrl: null,  // never send the document to validator.swagger.io
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
