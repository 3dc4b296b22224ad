import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { BlockList, isIP } from 'node:net';
import { FetchLimitError } from './fetch-limit-error.ts';
import { UnsafeUrlError } from './unsafe-url-error.ts';

/** Options for {@link safeFetch}. */
export interface SafeFetchOptions {
  /** Default: `GET`. */
  method?: string;
  /** Request headers. Authorization, Cookie and Proxy-Authorization are dropped on cross-origin redirects. */
  headers?: Record<string, string>;
  /** Request body; not re-sent after a 301/302/303 that turns the request into a GET. Default: none. */
  body?: string | Buffer;
  /** Limit for the whole fetch, redirects and body included; rejects with a `TimeoutError`. Default: 10 000 ms. */
  timeoutMs?: number;
  /** Largest body accepted, checked on Content-Length and while streaming. Default: 20 MiB. */
  maxBytes?: number;
  /** Redirects followed (each re-checked like the first URL). Default: 3. */
  maxRedirects?: number;
  /**
   * Content-type prefixes accepted for 2xx responses, e.g. `['image/']`; compared case-insensitively
   * without parameters. A 2xx without a matching Content-Type is refused. Default: any type.
   */
  allowedContentTypes?: string[];
  /**
   * Exceptions to the private-address rule: IP addresses (`127.0.0.1`), CIDRs (`10.1.0.0/16`), or
   * hostnames whose resolved addresses may be anything (`tts.internal`). Default: none.
   */
  allowPrivateHosts?: string[];
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Resolver used instead of `dns.lookup` (tests, custom DNS). Every address it returns is still checked.
   * Default: `dns.lookup`.
   */
  lookup?: LookupFunction;
}

/** A completed fetch (any status; only 2xx bodies are content-type checked). */
export interface SafeFetchResponse {
  status: number;
  /** Lowercase names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
  /** The URL of the last hop, after redirects. */
  finalUrl: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

// Addresses a server-side fetch must never reach unless allow-listed: this host, private networks, cloud
// metadata (169.254.169.254), carrier NAT, multicast, and ranges that are not routable on the internet.
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is matched by BlockList against the IPv4 rules.
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches localhost on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes 255.255.255.255
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback, deprecated IPv4-compatible
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments, Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an arbitrary IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

/** Parses an IPv6 address (zone removed) into 8 hextets, or undefined. */
function ipv6Hextets(address: string): number[] | undefined {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const bytes = dotted.split('.').map(Number);
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] =>
    part ? part.split(':').map((h) => Number.parseInt(h, 16)) : [];
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const hextets = [...head, ...Array<number>(Math.max(0, missing)).fill(0), ...tail];
  return hextets.every((h) => Number.isInteger(h) && h >= 0 && h <= 0xffff) ? hextets : undefined;
}

/**
 * The IPv4 address a NAT64 address (64:ff9b::/96) translates to: in DNS64 networks every IPv4-only host
 * resolves to one, so it must be judged by the IPv4 address inside rather than refused or trusted.
 */
function nat64Target(address: string): string | undefined {
  const h = ipv6Hextets(address);
  if (h === undefined) return undefined;
  if (h[0] !== 0x64 || h[1] !== 0xff9b || h.slice(2, 6).some((x) => x !== 0)) return undefined;
  const hi = h[6] ?? 0;
  const lo = h[7] ?? 0;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

interface AddressPolicy {
  allowedAddresses: BlockList;
  allowedHostnames: Set<string>;
}

function normalizeHostname(hostname: string): string {
  // URL keeps IPv6 literals in brackets and a trailing dot on FQDNs; neither changes where we connect.
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

function buildPolicy(allowPrivateHosts: readonly string[] = []): AddressPolicy {
  const allowedAddresses = new BlockList();
  const allowedHostnames = new Set<string>();
  for (const entry of allowPrivateHosts) {
    const [network, prefixText, ...rest] = entry.trim().split('/');
    const version = isIP(network ?? '');
    const type = version === 6 ? 'ipv6' : 'ipv4';
    if (version !== 0 && prefixText === undefined) {
      allowedAddresses.addAddress(network!, type);
    } else if (version !== 0 && rest.length === 0 && /^\d+$/.test(prefixText ?? '')) {
      // Throws RangeError on an out-of-range prefix: a broken allow-list is a programming error.
      allowedAddresses.addSubnet(network!, Number(prefixText), type);
    } else if (prefixText === undefined && /^[a-z0-9.-]+\.?$/i.test(entry.trim())) {
      allowedHostnames.add(normalizeHostname(entry.trim()));
    } else {
      throw new TypeError(`allowPrivateHosts: not an IP, CIDR or hostname: ${JSON.stringify(entry)}`);
    }
  }
  return { allowedAddresses, allowedHostnames };
}

/** Whether connecting to `address` for `hostname` is allowed. */
function isAllowedAddress(address: string, hostname: string, policy: AddressPolicy): boolean {
  if (policy.allowedHostnames.has(normalizeHostname(hostname))) return true;
  const bare = address.replace(/%.*$/, ''); // a zone id would make BlockList miss fe80::1%eth0
  const version = isIP(bare);
  if (version === 0) return false;
  const type = version === 6 ? 'ipv6' : 'ipv4';
  if (policy.allowedAddresses.check(bare, type)) return true;
  const embedded = version === 6 ? nat64Target(bare) : undefined;
  if (embedded !== undefined) return isAllowedAddress(embedded, hostname, policy);
  return !BLOCKED.check(bare, type);
}

/** Scheme, host name and literal-address checks that need no DNS. */
function checkUrl(input: string | URL, policy: AddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UnsafeUrlError('invalid_url', 'not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError(
      'unsupported_scheme',
      `scheme ${url.protocol} is not allowed, only http: and https:`,
    );
  }
  const host = normalizeHostname(url.hostname);
  if (host === '') throw new UnsafeUrlError('invalid_url', 'URL has no host');
  if (policy.allowedHostnames.has(host)) return url;
  if (isIP(host) !== 0) {
    // WHATWG URL parsing already turned 0x7f.1, 2130706433 and friends into dotted quads.
    if (!isAllowedAddress(host, host, policy)) {
      throw new UnsafeUrlError('private_address', `host ${host} is a private or reserved address`);
    }
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    throw new UnsafeUrlError('local_hostname', `host ${host} always means this machine`);
  }
  return url;
}

/**
 * Parses `url` and refuses what is unsafe to fetch without looking at DNS: schemes other than `http:`
 * and `https:`, `localhost`/`*.localhost`, and literal loopback/private/link-local/reserved IPs (also
 * when written as IPv4-mapped IPv6 or in hex/decimal forms). Throws {@link UnsafeUrlError}. A hostname
 * that passes may still resolve to a private address; only {@link safeFetch} catches that.
 * `allowPrivateHosts` works as in {@link safeFetch}; default: none.
 */
export function assertPublicHttpUrl(url: string, options: { allowPrivateHosts?: string[] } = {}): URL {
  return checkUrl(url, buildPolicy(options.allowPrivateHosts));
}

/**
 * A `lookup` for net.connect that resolves every address of the host and fails unless all are allowed.
 * Node connects only to addresses this returns, so the check is on the address actually used (no
 * time-of-check/time-of-use gap, no DNS rebinding between check and connect).
 */
function guardedLookup(policy: AddressPolicy, resolver: LookupFunction): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    resolver(hostname, { ...options, all: true }, (error, result, family) => {
      if (error) {
        callback(error, '', undefined);
        return;
      }
      const addresses: LookupAddress[] =
        typeof result === 'string' ? [{ address: result, family: family ?? isIP(result) }] : result;
      // Refuse if any address is private: with several A/AAAA records Node may try each in turn.
      const refused = addresses.find(({ address }) => !isAllowedAddress(address, hostname, policy));
      if (refused || addresses.length === 0) {
        const what = refused
          ? `resolved to the private or reserved address ${refused.address}`
          : 'has no address';
        callback(new UnsafeUrlError('private_address', `host ${hostname} ${what}`), '', undefined);
        return;
      }
      if (options.all) {
        callback(null, addresses);
        return;
      }
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

function sendRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  lookup: LookupFunction,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // agent: false gives every request its own connection: a pooled socket opened for another policy
    // (or another caller) must never be reused for this one.
    const request = client.request(url, { method, headers, lookup, signal, agent: false }, resolve);
    request.on('error', reject);
    request.end(body);
  });
}

async function readBody(response: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > maxBytes) {
      response.destroy();
      throw new FetchLimitError('max_bytes', `response body is larger than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('fetch aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}

/**
 * Fetches a URL that came from a user without letting it reach internal services (SSRF):
 * - only `http:`/`https:`, otherwise {@link UnsafeUrlError} `unsupported_scheme`;
 * - every address the host resolves to is checked when connecting, and loopback, private (10/8,
 *   172.16/12, 192.168/16), link-local (169.254/16, cloud metadata), CGNAT (100.64/10), 0/8, multicast,
 *   reserved ranges, ::1, fc00::/7, fe80::/10 and IPv4-mapped forms of these are refused with
 *   {@link UnsafeUrlError} `private_address`, unless matched by `allowPrivateHosts`;
 * - redirects are followed by hand, at most `maxRedirects` (then {@link FetchLimitError}
 *   `max_redirects`), each hop checked like the first;
 * - bodies over `maxBytes` and 2xx responses outside `allowedContentTypes` are refused with
 *   {@link FetchLimitError} (`max_bytes`, `content_type`);
 * - after `timeoutMs` rejects with a `TimeoutError` DOMException; aborting `signal` rejects with its reason.
 * Responses are not decompressed (no Accept-Encoding is sent), so `maxBytes` bounds memory.
 */
export async function safeFetch(url: string, options: SafeFetchOptions = {}): Promise<SafeFetchResponse> {
  const maxBytes = options.maxBytes ?? 20 * 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 3;
  const policy = buildPolicy(options.allowPrivateHosts);
  const lookup = guardedLookup(policy, options.lookup ?? (dnsLookup as LookupFunction));
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const allowedTypes = options.allowedContentTypes?.map((t) => t.toLowerCase());

  let method = (options.method ?? 'GET').toUpperCase();
  let body = options.body;
  let headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  let current = checkUrl(url, policy);

  try {
    for (let redirects = 0; ; redirects++) {
      if (signal.aborted) throw abortReason(signal);
      const response = await sendRequest(current, method, headers, body, lookup, signal);

      // Belt and braces: the lookup already vetted the address; this catches any path around it.
      const remote = response.socket?.remoteAddress;
      if (remote !== undefined && !isAllowedAddress(remote, current.hostname, policy)) {
        response.destroy();
        throw new UnsafeUrlError('private_address', `host ${current.hostname} connected to ${remote}`);
      }

      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (REDIRECT_STATUSES.has(status) && location) {
        response.destroy();
        if (redirects >= maxRedirects) {
          throw new FetchLimitError('max_redirects', `more than ${maxRedirects} redirects`);
        }
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          throw new UnsafeUrlError('invalid_url', 'redirect to an invalid URL');
        }
        next = checkUrl(next, policy);
        if (next.origin !== current.origin) {
          headers = Object.fromEntries(
            Object.entries(headers).filter(([n]) => !CREDENTIAL_HEADERS.includes(n)),
          );
        }
        // As browsers do: 303 always, and 301/302 after a POST, continue as a GET without the body.
        if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
          method = 'GET';
          body = undefined;
          const { 'content-type': _type, 'content-length': _length, ...rest } = headers;
          headers = rest;
        }
        current = next;
        continue;
      }

      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        response.destroy();
        throw new FetchLimitError(
          'max_bytes',
          `response body of ${declared} bytes is larger than ${maxBytes}`,
        );
      }
      if (allowedTypes && status >= 200 && status < 300) {
        const type = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!allowedTypes.some((prefix) => type.startsWith(prefix))) {
          response.destroy();
          throw new FetchLimitError('content_type', `content type ${JSON.stringify(type)} is not accepted`);
        }
      }
      const responseBody = method === 'HEAD' ? Buffer.alloc(0) : await readBody(response, maxBytes);
      return {
        status,
        headers: flattenHeaders(response.headers),
        body: responseBody,
        finalUrl: current.href,
      };
    }
  } catch (error) {
    // Node reports an aborted request as a generic AbortError/ECONNRESET; callers need the real reason.
    if (signal.aborted) throw abortReason(signal);
    throw error;
  }
}
