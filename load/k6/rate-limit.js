// k6 scenario "rate-limit" (defined in scenarios.json, shared with `npm run load -- rate-limit`).
//   k6 run -e BASE_URL=http://localhost:3000 -e RENDERMILL_TOKENS=<api keys, comma separated> load/k6/rate-limit.js
import { run, scenario } from './lib.js';

const s = scenario('rate-limit');
export const options = s.options;

export default function () {
  run(s);
}
