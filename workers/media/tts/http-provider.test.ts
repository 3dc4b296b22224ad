import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaInputError } from '../media-input-error.ts';
import { runProcess } from '../run-process.ts';
import { createHttpTtsProvider } from './http-provider.ts';

let dir = '';
let wav: Buffer;
let server: Server;
let baseUrl = '';
const requests: Array<{ path: string; authorization?: string; body: unknown }> = [];
const signal = new AbortController().signal;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '/';
  if (path === '/hang') return; // never answers
  const body = await readJson(req);
  requests.push({ path, authorization: req.headers.authorization, body });
  if (path === '/tts') {
    res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
    res.end(wav);
  } else if (path === '/bad-voice') {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end('{"error":"unknown voice"}');
  } else if (path === '/html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>oops</html>');
  } else if (path === '/fake-wav') {
    res.writeHead(200, { 'content-type': 'audio/wav' });
    res.end('<html>not really audio</html>');
  } else {
    res.writeHead(500);
    res.end('boom');
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'http-tts-test-'));
  const source = join(dir, 'source.wav');
  await runProcess('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000:duration=1.2'],
    ...['-c:a', 'pcm_s16le', `file:${source}`],
  ]);
  wav = await readFile(source);
  server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('createHttpTtsProvider', () => {
  it('when the service answers a WAV, then it is written and its duration measured', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/tts`, apiKey: 'secret', version: '2024-05' });
    const outPath = join(dir, 'speech.wav');
    const { durationSeconds } = await tts.synthesize({
      text: '-Hello there',
      voice: 'en-US-1',
      outPath,
      signal,
    });
    expect(durationSeconds).toBeCloseTo(1.2, 2);
    expect(await readFile(outPath)).toEqual(wav);
    expect(requests.at(-1)).toEqual({
      path: '/tts',
      authorization: 'Bearer secret',
      body: { text: '-Hello there', voice: 'en-US-1', format: 'wav' },
    });
    expect(tts.version).toBe('2024-05');
  });

  it('when the service never answers, then it rejects with a TimeoutError within timeoutMs', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/hang`, timeoutMs: 300 });
    const started = Date.now();
    const error = await tts
      .synthesize({ text: 'hi', voice: 'en', outPath: join(dir, 'hang.wav'), signal })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('when the caller aborts, then it rejects with the caller reason', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/hang` });
    const controller = new AbortController();
    const reason = new Error('job canceled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(
      tts.synthesize({ text: 'hi', voice: 'en', outPath: join(dir, 'abort.wav'), signal: controller.signal }),
    ).rejects.toBe(reason);
  });

  it('when the service refuses the voice with 400, then it rejects with MediaInputError', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/bad-voice` });
    await expect(
      tts.synthesize({ text: 'hi', voice: 'xx', outPath: join(dir, 'bad.wav'), signal }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });

  it('when the service fails with 500, then it rejects with a retryable plain Error', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/error` });
    const error = await tts
      .synthesize({ text: 'hi', voice: 'en', outPath: join(dir, 'err.wav'), signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MediaInputError);
    expect((error as Error).message).toContain('500');
  });

  it('when the answer is not a WAV, then it rejects and leaves no file behind', async () => {
    for (const path of ['/html', '/fake-wav']) {
      const tts = createHttpTtsProvider({ url: `${baseUrl}${path}` });
      const outPath = join(dir, `not-wav-${path.slice(1)}.wav`);
      await expect(tts.synthesize({ text: 'hi', voice: 'en', outPath, signal })).rejects.toThrow(/WAV|wav/);
      await expect(access(outPath)).rejects.toThrow();
      await expect(access(`${outPath}.part`)).rejects.toThrow();
    }
  });

  it('when the answer is larger than maxBytes, then it rejects', async () => {
    const tts = createHttpTtsProvider({ url: `${baseUrl}/tts`, maxBytes: 1000 });
    await expect(
      tts.synthesize({ text: 'hi', voice: 'en', outPath: join(dir, 'big.wav'), signal }),
    ).rejects.toThrow(/larger than 1000 bytes/);
  });
});
