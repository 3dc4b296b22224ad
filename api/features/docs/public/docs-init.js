// Boots Swagger UI on /docs. A file of its own, not an inline script: the CSP allows scripts from 'self' only.
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#reference',
    deepLinking: true,
    // The default sends the document to an online validator and shows its badge: no external requests.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
