import { z } from 'zod/v4';

/**
 * Request bodies of job submissions. The API validates with them at the edge; workers parse
 * the stored payload again with the same schema (it may come from older code).
 */
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #1f2937');
// One check, no refinement after it: zod's URL check parses and tests the scheme together, so a
// non-URL is a 400 naming the field (a refinement calling `new URL()` threw on it: a 500).
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);
const voice = z
  .string()
  .regex(/^[a-z]{2,3}(-[a-z0-9]+)*$/, 'must be a voice like en or en-us')
  .default('en');
const metadata = z
  .record(z.string().max(64), z.unknown())
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 keys')
  .refine((m) => JSON.stringify(m).length <= 8192, 'at most 8 KB')
  .default({});

/** Landscape (16:9) frame size of each resolution name; the name is the short side in every aspect. */
export const RESOLUTIONS = { '720p': [1280, 720], '1080p': [1920, 1080], '2160p': [3840, 2160] } as const;
export type Resolution = keyof typeof RESOLUTIONS;
/** Frame shapes of a render: landscape (default), vertical (shorts, stories) and square. */
export const ASPECTS = ['16:9', '9:16', '1:1'] as const;
export type Aspect = (typeof ASPECTS)[number];

export const sceneSchema = z
  .object({
    text: z.string().trim().min(1).max(2000).optional(),
    title: z.string().trim().min(1).max(200).optional(),
    image_url: httpUrl.optional(),
    background: hexColor.default('#111827'),
    duration: z.number().positive().max(600).optional(),
  })
  .strict()
  .refine((s) => s.text !== undefined || s.duration !== undefined, {
    message: 'a scene needs text (narration) or a duration',
    path: ['duration'],
  });
export type Scene = z.infer<typeof sceneSchema>;

export const renderRequestSchema = z
  .object({
    scenes: z.array(sceneSchema).min(1, 'at least 1 scene').max(50, 'at most 50 scenes'),
    resolution: z.enum(['720p', '1080p', '2160p']).default('720p'),
    fps: z.union([z.literal(24), z.literal(25), z.literal(30), z.literal(60)]).default(30),
    aspect: z.enum(ASPECTS).default('16:9'),
    voice,
    callback_url: httpUrl.optional(),
    metadata,
  })
  .strict();
export type RenderRequest = z.infer<typeof renderRequestSchema>;

/**
 * Output width and height of a render, in pixels: the resolution name is the short side
 * (1080p is 1920×1080 at 16:9, 1080×1920 at 9:16, 1080×1080 at 1:1).
 */
export function renderSize(r: { resolution: Resolution; aspect?: Aspect }): readonly [number, number] {
  const [long, short] = RESOLUTIONS[r.resolution];
  if (r.aspect === '9:16') return [short, long];
  if (r.aspect === '1:1') return [short, short];
  return [long, short];
}

export const ttsRequestSchema = z
  .object({
    text: z.string().trim().min(1).max(2000),
    voice,
    format: z.enum(['wav', 'mp3']).default('wav'),
    callback_url: httpUrl.optional(),
    metadata,
  })
  .strict();
export type TtsRequest = z.infer<typeof ttsRequestSchema>;

export const imageRequestSchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    text: z.string().trim().min(1).max(2000).optional(),
    width: z.number().int().min(16).max(3840).default(1280),
    height: z.number().int().min(16).max(2160).default(720),
    background: hexColor.default('#111827'),
    callback_url: httpUrl.optional(),
    metadata,
  })
  .strict();
export type ImageRequest = z.infer<typeof imageRequestSchema>;

/** A parsed job submission (POST /v1/renders, /v1/tts, /v1/images); `kind` narrows `request`. */
export type JobSubmission =
  | { kind: 'render'; request: RenderRequest }
  | { kind: 'tts'; request: TtsRequest }
  | { kind: 'image'; request: ImageRequest };
