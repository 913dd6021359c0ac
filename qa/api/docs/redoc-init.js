// ReDoc at /redoc, on qa's own copy of its bundle: no inline script (the page's CSP), no web fonts.
"use strict";
const root = document.getElementById("redoc");
Redoc.init(root.dataset.openapiUrl, {}, root);
