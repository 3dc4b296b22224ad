import path from 'node:path';
import { type TtsRequest, ttsRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { cachedSpeech } from '../../cache/cached-speech.ts';
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
        const entry = await cachedSpeech({
          storage: ctx.services.storage,
          tenantId: ctx.job.tenant_id,
          tts,
          text,
          voice,
          localPath: path.join(ctx.workDir, 'speech.wav'),
          signal: ctx.signal,
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
          result: { key: outKey, durationSeconds: entry.durationSeconds },
          cacheHit: entry.hit,
          voiceEngine: entry.engine,
          usage: [
            {
              metric: 'tts_seconds',
              quantity: entry.hit ? 0 : Math.round(entry.durationSeconds * 100) / 100,
            },
            { metric: 'storage_bytes', quantity: bytes },
          ],
          output: {
            key: outKey,
            contentType: format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
            bytes,
            durationSeconds: entry.durationSeconds,
          },
        };
      },
    },
  ],
};
