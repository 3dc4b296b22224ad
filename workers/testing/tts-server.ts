import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runProcess } from '../media/run-process.ts';

/** What the fake hosted TTS service does with the next requests. */
export type TtsServerMode = 'ok' | 'fail' | 'throttle' | 'hang';

export interface TtsServer {
  url: string;
  /** Requests received so far (hung ones included). */
  requests: number;
  mode: TtsServerMode;
  /** Retry-After seconds sent with 429 answers. Default: none. */
  retryAfterSeconds?: number;
  close(): Promise<void>;
}

/**
 * A local stand-in for a hosted TTS provider speaking the HTTP provider's protocol
 * (`POST {text, voice, format}` → `audio/wav`). `mode` switches it between answering a real WAV
 * (a 1.5 s tone), failing with 500, throttling with 429 and never answering.
 */
export async function startTtsServer(workDir: string): Promise<TtsServer> {
  const wavPath = path.join(workDir, 'tts-server-tone.wav');
  await runProcess('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=22050:duration=1.5'],
    ...['-c:a', 'pcm_s16le', `file:${wavPath}`],
  ]);
  const wav = await readFile(wavPath);
  let server: Server;
  const state: TtsServer = {
    url: '',
    requests: 0,
    mode: 'ok',
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server = createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => {
      if (state.mode === 'hang') return;
      if (state.mode === 'fail') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('provider overloaded');
      } else if (state.mode === 'throttle') {
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (state.retryAfterSeconds !== undefined) headers['retry-after'] = String(state.retryAfterSeconds);
        res.writeHead(429, headers);
        res.end('slow down');
      } else {
        res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
        res.end(wav);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/speak`;
  return state;
}

/** A URL on which nothing listens (a port just released). */
export async function unreachableUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return `http://127.0.0.1:${port}/v1/speak`;
}
