import path from 'node:path';
import { type TtsRequest, ttsRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { cached, cacheKey } from '../../cache/media-cache.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import { wavToMp3 } from '../../media/audio.ts';

/** tts.run: speak the text (cached per tenant), convert to MP3 when asked, store as the output. */
export const ttsJob: JobDefinition<TtsRequest> = {
  kind: 'tts',
  request: ttsRequestSchema,
  steps: [
    {
      name: 'tts',
      weight: 1,
      async run(ctx) {
        const tts = ctx.services.tts;
        if (!tts) throw new Error('no TTS provider configured on this worker');
        const { text, voice, format } = ctx.payload;
        const key = cacheKey({ kind: 'tts', text, voice, engine: tts.name, version: tts.version });
        const entry = await cached(ctx.services.storage, ctx.job.tenant_id, key, 'wav', async () => {
          const localPath = path.join(ctx.workDir, 'speech.wav');
          const { durationSeconds } = await tts.synthesize({
            text,
            voice,
            outPath: localPath,
            signal: ctx.signal,
          });
          return { localPath, meta: { durationSeconds } };
        });
        let local = path.join(ctx.workDir, 'speech-cached.wav');
        await ctx.services.storage.download(entry.dataKey, local);
        if (format === 'mp3') {
          const mp3 = path.join(ctx.workDir, 'speech.mp3');
          await wavToMp3(local, mp3, ctx.signal);
          local = mp3;
        }
        const outKey = tenantKey(ctx.job.tenant_id, 'outputs', `${ctx.job.id}.${format}`);
        const { bytes } = await ctx.services.storage.putFile(outKey, local);
        return {
          result: { key: outKey, durationSeconds: entry.meta.durationSeconds },
          cacheHit: entry.hit,
          usage: [
            {
              metric: 'tts_seconds',
              quantity: entry.hit ? 0 : Math.round(entry.meta.durationSeconds * 100) / 100,
            },
            { metric: 'storage_bytes', quantity: bytes },
          ],
          output: {
            key: outKey,
            contentType: format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
            bytes,
            durationSeconds: entry.meta.durationSeconds,
          },
        };
      },
    },
  ],
};
