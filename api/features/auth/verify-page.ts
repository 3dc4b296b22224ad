/**
 * The page the email links to. It only shows a button that POSTs the token: mail scanners and
 * link previews follow GET links, and must not burn a single-use token by doing so. No inline
 * styles or scripts: the CSP allows neither. The dashboard has its own page for links
 * (`/sign-in/verify`); this one serves API-only deployments and links mailed before it.
 */
export function verifyPage(token: string): string {
  const escaped = token.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><title>Sign in to Rendermill</title></head>
<body>
<h1>Sign in to Rendermill</h1>
<p>Press the button to finish signing in. The link works once and expires 15 minutes after it was sent.</p>
<form method="post" action="/v1/auth/verify">
<input type="hidden" name="token" value="${escaped}">
<button type="submit">Sign in</button>
</form></body></html>`;
}
