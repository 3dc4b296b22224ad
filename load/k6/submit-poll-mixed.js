// k6 scenario "submit-poll-mixed" (defined in scenarios.json, shared with `npm run load -- submit-poll-mixed`).
//   k6 run -e BASE_URL=http://localhost:3000 -e RENDERMILL_TOKENS=<api keys, comma separated> load/k6/submit-poll-mixed.js
import { run, scenario } from './lib.js';

const s = scenario('submit-poll-mixed');
export const options = s.options;

export default function () {
  run(s);
}
