import type { FieldError } from '../../../shared/errors/http-errors.ts';
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import { assertPublicHttpUrl } from '../../../shared/net/safe-fetch.ts';
import { UnsafeUrlError } from '../../../shared/net/unsafe-url-error.ts';

/**
 * URLs a worker will fetch or post to (`image_url`, `callback_url`), checked at submit so an SSRF
 * attempt is a 400 naming the field rather than a job that fails later. Only what needs no DNS
 * is checked here (scheme, localhost, literal private IPs); the worker's safeFetch checks the
 * resolved address again. `allowPrivateHosts` is FETCH_ALLOW_PRIVATE.
 */
export function unsafeUrlErrors(s: JobSubmission, allowPrivateHosts: string[]): FieldError[] {
  const urls: Array<{ path: string; url: string | undefined }> = [
    { path: '/callback_url', url: s.request.callback_url },
  ];
  if (s.kind === 'render') {
    s.request.scenes.forEach((scene, i) => {
      urls.push({ path: `/scenes/${i}/image_url`, url: scene.image_url });
    });
  }
  const errors: FieldError[] = [];
  for (const { path, url } of urls) {
    if (url === undefined) continue;
    try {
      assertPublicHttpUrl(url, { allowPrivateHosts });
    } catch (err) {
      if (!(err instanceof UnsafeUrlError)) throw err;
      errors.push({ path, message: `must be a public http(s) URL: ${err.message}` });
    }
  }
  return errors;
}
