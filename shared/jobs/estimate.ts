import type { ImageRequest, RenderRequest, TtsRequest } from './job-requests.ts';

/** Usage metrics of the platform (README: How quotas behave). */
export const METRICS = ['render_seconds', 'tts_seconds', 'images', 'storage_bytes'] as const;
export type Metric = (typeof METRICS)[number];
export type Estimate = Partial<Record<Metric, number>>;

// espeak-ng speaks ~175 words a minute by default; round up so a reservation rarely falls short.
const WORDS_PER_SECOND = 2.6;

/** Seconds of speech a text will take, estimated before synthesis (quota reservation). */
export function estimateSpeechSeconds(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return Math.ceil((words / WORDS_PER_SECOND + 0.5) * 10) / 10;
}

export function estimateRender(r: RenderRequest): Estimate {
  let tts = 0;
  let total = 0;
  for (const s of r.scenes) {
    const speech = s.text ? estimateSpeechSeconds(s.text) : 0;
    tts += speech;
    total += s.text ? speech : (s.duration ?? 0);
  }
  return { render_seconds: round(total), tts_seconds: round(tts), images: r.scenes.length };
}

export function estimateTts(r: TtsRequest): Estimate {
  return { tts_seconds: estimateSpeechSeconds(r.text) };
}

export function estimateImage(_r: ImageRequest): Estimate {
  return { images: 1 };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
