// Swagger UI at /docs, on qa's own copy of its assets (fastapi-offline's): what FastAPI's default
// page runs as an inline script, which the page's Content-Security-Policy does not allow.
// validatorUrl is off: Swagger UI would otherwise load a badge from its online validator.
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
