// Starts swagger-ui on the /docs page (kept out of the HTML so the page needs no inline
// script under its Content-Security-Policy). Served at /docs/assets/docs-init.js.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    // The public validator badge would call a third-party host; the document is
    // validated in the test suite instead.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    persistAuthorization: false,
  });
});
