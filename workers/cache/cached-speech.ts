import type { Storage } from '../../shared/storage/storage.ts';
import type { TtsProvider } from '../media/tts/tts-provider.ts';
import { cached, cacheKey } from './media-cache.ts';

/** One narration, from the tenant's cache or freshly spoken. */
export interface CachedSpeech {
  /** Storage key of the WAV */
  dataKey: string;
  durationSeconds: number;
  /** The engine whose audio this is (`http`, `espeak-ng`…) */
  engine: string;
  hit: boolean;
}

/**
 * Speaks `text` unless the tenant's cache holds it from the provider's own engine. Audio is cached
 * under the engine that actually spoke it, so narration from a fallback engine is not served once
 * the primary is back (it is found again only while the fallback keeps answering).
 */
export async function cachedSpeech(args: {
  storage: Storage;
  tenantId: string;
  tts: TtsProvider;
  text: string;
  voice: string;
  localPath: string;
  signal: AbortSignal;
}): Promise<CachedSpeech> {
  const { tts, text, voice } = args;
  const keyFor = (engine: string, version: string) => cacheKey({ kind: 'tts', text, voice, engine, version });
  const entry = await cached<{ durationSeconds: number; engine?: string }>(
    args.storage,
    args.tenantId,
    keyFor(tts.name, tts.version),
    'wav',
    async () => {
      const spoken = await tts.synthesize({ text, voice, outPath: args.localPath, signal: args.signal });
      return {
        localPath: args.localPath,
        key: keyFor(spoken.engine, spoken.engineVersion),
        meta: { durationSeconds: spoken.durationSeconds, engine: spoken.engine },
      };
    },
  );
  return {
    dataKey: entry.dataKey,
    durationSeconds: entry.meta.durationSeconds,
    // Entries written before engines were recorded are the provider's own.
    engine: entry.meta.engine ?? tts.name,
    hit: entry.hit,
  };
}
