// k6 scenario "sign-in-burst" (defined in scenarios.json, shared with `npm run load -- sign-in-burst`).
//   k6 run -e BASE_URL=http://localhost:3000 -e RENDERMILL_TOKENS=<api keys, comma separated> load/k6/sign-in-burst.js
import { run, scenario } from './lib.js';

const s = scenario('sign-in-burst');
export const options = s.options;

export default function () {
  run(s);
}
