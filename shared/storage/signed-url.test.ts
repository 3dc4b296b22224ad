import { describe, expect, it } from 'vitest';
import { DOWNLOAD_URL_TTL_SECONDS, signDownload, verifyDownload } from './signed-url.ts';

const secret = 'x'.repeat(40);
const now = new Date('2026-11-20T12:00:00Z');

function parts(url: string) {
  const u = new URL(url);
  return { path: u.pathname, expires: u.searchParams.get('expires'), sig: u.searchParams.get('sig') };
}

describe('signed download links', () => {
  it('when a link is signed, then it names the job, expires in 15 minutes and verifies', () => {
    const s = signDownload({ secret, publicUrl: 'https://api.example.com/', jobId: 'job_abc', now });
    const p = parts(s.url);
    expect(p.path).toBe('/v1/files/job_abc');
    expect(Number(p.expires)).toBe(now.getTime() / 1000 + DOWNLOAD_URL_TTL_SECONDS);
    expect(p.sig).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyDownload({ secret, jobId: 'job_abc', expires: p.expires, sig: p.sig, now })).toEqual({
      ok: true,
    });
  });

  it('when the job, expiry, signature or secret differ, then it is refused as a bad signature', () => {
    const s = signDownload({ secret, publicUrl: 'http://x', jobId: 'job_abc', now });
    const { expires, sig } = parts(s.url);
    const flipped = `${sig?.[0] === 'a' ? 'b' : 'a'}${sig?.slice(1)}`;
    for (const attempt of [
      { jobId: 'job_other', expires, sig },
      { jobId: 'job_abc', expires: String(Number(expires) + 3600), sig },
      { jobId: 'job_abc', expires, sig: flipped },
    ]) {
      expect(verifyDownload({ secret, ...attempt, now })).toEqual({ ok: false, reason: 'bad_signature' });
    }
    expect(verifyDownload({ secret: 'y'.repeat(40), jobId: 'job_abc', expires, sig, now })).toMatchObject({
      ok: false,
    });
  });

  it('when the link is past its expiry, then it is refused as expired', () => {
    const s = signDownload({ secret, publicUrl: 'http://x', jobId: 'job_abc', now, ttlSeconds: 60 });
    const { expires, sig } = parts(s.url);
    const later = new Date(now.getTime() + 61_000);
    expect(verifyDownload({ secret, jobId: 'job_abc', expires, sig, now: later })).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('when query values are missing, repeated or not hex, then they are malformed', () => {
    for (const [expires, sig] of [
      [undefined, 'a'.repeat(64)],
      ['123', undefined],
      [['1', '2'], 'a'.repeat(64)],
      ['123', 'Z'.repeat(64)],
      ['-5', 'a'.repeat(64)],
    ]) {
      expect(verifyDownload({ secret, jobId: 'job_abc', expires, sig, now })).toEqual({
        ok: false,
        reason: 'malformed',
      });
    }
  });
});
