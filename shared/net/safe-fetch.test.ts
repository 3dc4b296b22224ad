import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchLimitError } from './fetch-limit-error.ts';
import { assertPublicHttpUrl, safeFetch } from './safe-fetch.ts';
import { UnsafeUrlError } from './unsafe-url-error.ts';

let server: Server;
let port = 0;
let local = '';
const hits: string[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  hits.push(path);
  const redirect = (location: string, status = 302): void => {
    res.writeHead(status, { location });
    res.end();
  };
  switch (path) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-multi': ['a', 'b'] });
      res.end('hello');
      return;
    case '/image':
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      return;
    case '/big':
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 10_000 });
      res.end(Buffer.alloc(10_000));
      return;
    case '/big-chunked':
      // No Content-Length: only counting while streaming can catch it.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000));
      res.end();
      return;
    case '/hang':
      return;
    case '/echo':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, authorization: req.headers.authorization ?? null }));
      return;
    case '/to-loopback':
      redirect(`http://127.0.0.1:${port}/secret`);
      return;
    case '/to-localhost':
      redirect(`http://localhost:${port}/secret`);
      return;
    case '/to-metadata':
      redirect('http://169.254.169.254/latest/meta-data/');
      return;
    case '/to-file':
      redirect('file:///etc/passwd');
      return;
    case '/to-ok':
      redirect('/ok', 301);
      return;
    case '/loop':
      redirect('/loop');
      return;
    case '/post-303':
      redirect(`http://other.example:${port}/echo`, 303);
      return;
    case '/post-307':
      redirect('/echo', 307);
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

/** DNS for made-up names; everything else goes nowhere. */
function fakeDns(records: Record<string, string[]>): LookupFunction {
  return (hostname, options, callback) => {
    const addresses: LookupAddress[] = (records[hostname] ?? []).map((address) => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
    if (addresses.length === 0) {
      callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', undefined);
    } else if (options.all) {
      callback(null, addresses);
    } else {
      callback(null, addresses[0]!.address, addresses[0]!.family);
    }
  };
}

const dns = fakeDns({
  'cdn.example.com': ['127.0.0.1'],
  'other.example': ['127.0.0.1'],
  'rebind.example': ['93.184.216.34', '127.0.0.1'],
  'secure.example': ['127.0.0.1'],
});

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  local = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('safeFetch refusals', () => {
  it.each([
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['ftp://example.com/file', 'unsupported_scheme'],
    ['data:text/plain,hello', 'unsupported_scheme'],
    ['http://169.254.169.254/latest/meta-data/', 'private_address'],
    ['http://10.0.0.1/', 'private_address'],
    ['http://192.168.1.1/', 'private_address'],
    ['http://172.16.0.1/', 'private_address'],
    ['http://100.64.0.1/', 'private_address'],
    ['http://0.0.0.0/', 'private_address'],
    ['http://224.0.0.1/', 'private_address'],
    ['http://[::1]/', 'private_address'],
    ['http://[::ffff:127.0.0.1]/', 'private_address'],
    ['http://[::ffff:169.254.169.254]/', 'private_address'],
    ['http://[fd00::1]/', 'private_address'],
    ['http://[fe80::1]/', 'private_address'],
    ['http://[64:ff9b::a9fe:a9fe]/', 'private_address'],
    ['http://2130706433/', 'private_address'],
    ['http://0x7f.1/', 'private_address'],
    ['http://localhost/', 'local_hostname'],
    ['http://api.localhost./', 'local_hostname'],
    ['not a url', 'invalid_url'],
  ])('when the URL is %s, then it is refused as %s without a request', async (url, reason) => {
    const error = await refusal(safeFetch(url));
    expect(error).toBeInstanceOf(UnsafeUrlError);
    expect((error as UnsafeUrlError).reason).toBe(reason);
  });

  it('when a local server is not allow-listed, then it is refused and never reached', async () => {
    const before = hits.length;
    const error = await refusal(safeFetch(`${local}/ok`));
    expect(error).toMatchObject({ name: 'UnsafeUrlError', reason: 'private_address' });
    expect(hits.length).toBe(before);
  });

  it('when a hostname resolves to loopback, then the connection is refused at lookup time', async () => {
    const before = hits.length;
    const error = await refusal(safeFetch(`http://cdn.example.com:${port}/ok`, { lookup: dns }));
    expect(error).toMatchObject({ name: 'UnsafeUrlError', reason: 'private_address' });
    expect((error as Error).message).toContain('127.0.0.1');
    expect(hits.length).toBe(before);
  });

  it('when a hostname resolves to a public and a private address, then it is refused', async () => {
    const error = await refusal(safeFetch(`http://rebind.example:${port}/ok`, { lookup: dns }));
    expect(error).toMatchObject({ name: 'UnsafeUrlError', reason: 'private_address' });
    expect((error as Error).message).toContain('127.0.0.1');
  });

  it('when an https hostname resolves to loopback, then the TLS connection goes through the same check', async () => {
    const error = await refusal(safeFetch(`https://secure.example:${port}/ok`, { lookup: dns }));
    expect(error).toMatchObject({ name: 'UnsafeUrlError', reason: 'private_address' });
    expect((error as Error).message).toContain('resolved to the private or reserved address 127.0.0.1');
  });

  it('when a public-looking host redirects to loopback, then the redirect is refused and not followed', async () => {
    const options = { lookup: dns, allowPrivateHosts: ['cdn.example.com'] };
    const before = hits.filter((h) => h === '/secret').length;
    for (const [path, reason] of [
      ['/to-loopback', 'private_address'],
      ['/to-localhost', 'local_hostname'],
      ['/to-metadata', 'private_address'],
      ['/to-file', 'unsupported_scheme'],
    ] as const) {
      const error = await refusal(safeFetch(`http://cdn.example.com:${port}${path}`, options));
      expect(error).toBeInstanceOf(UnsafeUrlError);
      expect((error as UnsafeUrlError).reason).toBe(reason);
    }
    expect(hits.filter((h) => h === '/secret').length).toBe(before);
  });
});

describe('safeFetch with an allow-listed local server', () => {
  const allowed = { allowPrivateHosts: ['127.0.0.1'] };

  it('when the address is allow-listed, then the response is returned', async () => {
    const response = await safeFetch(`${local}/ok`, allowed);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('hello');
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['x-multi']).toBe('a, b');
    expect(response.finalUrl).toBe(`${local}/ok`);
  });

  it('when a CIDR covers the address, then it is allowed too', async () => {
    const response = await safeFetch(`${local}/ok`, { allowPrivateHosts: ['127.0.0.0/8'] });
    expect(response.status).toBe(200);
  });

  it('when redirected within the limit, then the final response and URL are returned', async () => {
    const response = await safeFetch(`${local}/to-ok`, allowed);
    expect(response.status).toBe(200);
    expect(response.finalUrl).toBe(`${local}/ok`);
  });

  it('when redirects exceed maxRedirects, then it rejects with FetchLimitError', async () => {
    const error = await refusal(safeFetch(`${local}/loop`, { ...allowed, maxRedirects: 2 }));
    expect(error).toBeInstanceOf(FetchLimitError);
    expect((error as FetchLimitError).limit).toBe('max_redirects');
  });

  it('when a POST is redirected with 303 to another origin, then it continues as GET without credentials', async () => {
    const response = await safeFetch(`${local}/post-303`, {
      allowPrivateHosts: ['127.0.0.1', 'other.example'],
      lookup: dns,
      method: 'POST',
      body: '{}',
      headers: { Authorization: 'Bearer secret', 'Content-Type': 'application/json' },
    });
    expect(JSON.parse(response.body.toString())).toEqual({ method: 'GET', authorization: null });
  });

  it('when a POST is redirected with 307 on the same origin, then method and credentials are kept', async () => {
    const response = await safeFetch(`${local}/post-307`, {
      ...allowed,
      method: 'POST',
      body: '{}',
      headers: { authorization: 'Bearer secret' },
    });
    expect(JSON.parse(response.body.toString())).toEqual({ method: 'POST', authorization: 'Bearer secret' });
  });

  it('when the declared body exceeds maxBytes, then it rejects with FetchLimitError', async () => {
    const error = await refusal(safeFetch(`${local}/big`, { ...allowed, maxBytes: 1000 }));
    expect(error).toMatchObject({ name: 'FetchLimitError', limit: 'max_bytes' });
  });

  it('when a streamed body without Content-Length exceeds maxBytes, then it rejects with FetchLimitError', async () => {
    const error = await refusal(safeFetch(`${local}/big-chunked`, { ...allowed, maxBytes: 2500 }));
    expect(error).toMatchObject({ name: 'FetchLimitError', limit: 'max_bytes' });
  });

  it('when the content type is not allowed, then it rejects with FetchLimitError', async () => {
    const error = await refusal(safeFetch(`${local}/ok`, { ...allowed, allowedContentTypes: ['image/'] }));
    expect(error).toMatchObject({ name: 'FetchLimitError', limit: 'content_type' });
    const image = await safeFetch(`${local}/image`, { ...allowed, allowedContentTypes: ['image/'] });
    expect(image.body).toHaveLength(4);
  });

  it('when the server never answers, then it rejects with a TimeoutError after timeoutMs', async () => {
    const started = Date.now();
    const error = await refusal(safeFetch(`${local}/hang`, { ...allowed, timeoutMs: 300 }));
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('when the caller aborts, then it rejects with the caller reason', async () => {
    const controller = new AbortController();
    const reason = new Error('job canceled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(safeFetch(`${local}/hang`, { ...allowed, signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('assertPublicHttpUrl', () => {
  it('when the URL is public http(s), then it returns the parsed URL', () => {
    expect(assertPublicHttpUrl('https://example.com/a?b=1').hostname).toBe('example.com');
    expect(assertPublicHttpUrl('http://8.8.8.8/').hostname).toBe('8.8.8.8');
    expect(assertPublicHttpUrl('http://[64:ff9b::808:808]/').hostname).toBe('[64:ff9b::808:808]');
  });

  it('when the URL is local or not http(s), then it throws UnsafeUrlError', () => {
    for (const url of [
      'file:///etc/passwd',
      'http://127.0.0.1/',
      'http://[::1]/',
      'http://localhost:3000/',
    ]) {
      expect(() => assertPublicHttpUrl(url)).toThrow(UnsafeUrlError);
    }
  });

  it('when the host is allow-listed, then a private address passes', () => {
    expect(assertPublicHttpUrl('http://127.0.0.1:8080/', { allowPrivateHosts: ['127.0.0.1'] }).port).toBe(
      '8080',
    );
  });

  it('when the allow-list has a malformed entry, then it throws TypeError', () => {
    expect(() => assertPublicHttpUrl('http://example.com/', { allowPrivateHosts: ['10.0.0.0/99x'] })).toThrow(
      TypeError,
    );
  });
});
