/** `rendermill --help` and `rendermill <command> --help`. */
const COMMON = `Options (every command):
  --api-key KEY      an API key; or RENDERMILL_API_KEY; else the session of \`rendermill login\`
  --base-url URL     or RENDERMILL_BASE_URL (default http://localhost:3000)
  --json             machine output: one JSON document, or NDJSON lines for streams
  --help             this command's help`;

export const EXIT_CODES =
  'Exit codes: 0 ok, 1 error, 2 invalid input (400), 3 over quota (402), 4 job failed, 5 job canceled, 6 not allowed (401/403), 64 bad usage.';

export const HELP: Record<string, string> = {
  main: `rendermill — the Rendermill API from a terminal

Usage: rendermill <command> [options]

Commands:
  login [--email E]                 sign in with a mailed link; the session is kept in your config dir
  logout                            end the session and remove it
  render <scenes.json>              submit a render (--wait: progress bar; --output: download the MP4)
  estimate <body.json>              price a render, tts or image job before submitting it
  jobs list|get|cancel|download     your jobs
  usage                             this period's counters and limits
  keys create|list|rotate|delete    API keys
  deliveries list|replay            the webhook delivery log
  listen --forward-to URL           forward your events, signed, to a local URL

Run \`rendermill <command> --help\` for a command's options.

${COMMON}

${EXIT_CODES}`,
  login: `Usage: rendermill login [--email you@example.com]

Asks for your email (unless --email), mails you a sign-in link, and reads the link or its token
from stdin. Stores the session's refresh token, mode 0600, in
$XDG_CONFIG_HOME/rendermill/session.json (default ~/.config/rendermill/session.json). Later
commands without --api-key use it.

${COMMON}`,
  logout: `Usage: rendermill logout

Ends the stored session at the API and removes the session file.

${COMMON}`,
  render: `Usage: rendermill render <scenes.json> [--wait] [--output video.mp4] [--idempotency-key K]

  --wait                follow the job: a progress bar per step on a TTY, NDJSON events with --json
  --output FILE         with --wait: download the MP4 there when it succeeds
  --idempotency-key K   the same key and body within 24 h answer the original job

${COMMON}

${EXIT_CODES}`,
  estimate: `Usage: rendermill estimate <body.json> [--kind render|tts|image]

Answers, without creating anything: the metered quantities, the price in your plan (overage
priced), the quota left after the job, and the answer the submit would get (exit 3 for a 402).
--kind defaults from the body: "scenes" → render, "title" → image, "text" → tts.

${COMMON}`,
  jobs: `Usage:
  rendermill jobs list [--status S] [--kind K] [--limit N] [--cursor C]
  rendermill jobs get <id>
  rendermill jobs cancel <id>
  rendermill jobs download <id> [--output FILE]

${COMMON}`,
  usage: `Usage: rendermill usage

This period's usage, reservations and limits per metric.

${COMMON}`,
  keys: `Usage:
  rendermill keys list
  rendermill keys create --name NAME [--role viewer|member|admin]   (the key is shown once)
  rendermill keys rotate <id>                                        (the old key stops at once)
  rendermill keys delete <id>

Needs an admin (or owner) session or key.

${COMMON}`,
  deliveries: `Usage:
  rendermill deliveries list [--status pending|delivered|failed] [--event TYPE] [--job-id ID] [--limit N] [--cursor C]
  rendermill deliveries replay <id>       resend with the same webhook-id

Needs admin.

${COMMON}`,
  listen: `Usage: rendermill listen --forward-to http://localhost:PORT/path [--types job.succeeded,job.failed]

Streams your tenant's events (GET /v1/events) and POSTs each one to the URL, signed the Standard
Webhooks way (webhook-id, webhook-timestamp, webhook-signature) with your tenant's webhook
secret, so your handler verifies it as it would a real webhook. Runs until interrupted. Needs
admin (to read the webhook secret).

${COMMON}`,
};
