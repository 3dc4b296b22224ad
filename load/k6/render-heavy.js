// k6 scenario "render-heavy" (defined in scenarios.json, shared with `npm run load -- render-heavy`).
//   k6 run -e BASE_URL=http://localhost:3000 -e RENDERMILL_TOKENS=<api keys, comma separated> load/k6/render-heavy.js
import { run, scenario } from './lib.js';

const s = scenario('render-heavy');
export const options = s.options;

export default function () {
  run(s);
}
