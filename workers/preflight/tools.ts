/**
 * The external programs and files media tasks run on. Each task in `workers/registry.ts` declares the
 * ones it uses; a worker checks those of its queues at start (see `check-tools.ts`).
 */
export type Tool = 'ffmpeg' | 'ffprobe' | 'espeak-ng' | 'dejavu-fonts';

/** What to install for each tool: the Debian package and the Homebrew formula or cask. */
export const INSTALL: Record<Tool, { debian: string; brew: string; brewCask?: boolean }> = {
  ffmpeg: { debian: 'ffmpeg', brew: 'ffmpeg' },
  // ffprobe ships in the same package as ffmpeg on both systems.
  ffprobe: { debian: 'ffmpeg', brew: 'ffmpeg' },
  'espeak-ng': { debian: 'espeak-ng', brew: 'espeak-ng' },
  'dejavu-fonts': { debian: 'fonts-dejavu-core', brew: 'font-dejavu', brewCask: true },
};

/** The order tools are checked and reported in. */
export const ALL_TOOLS: readonly Tool[] = ['ffmpeg', 'ffprobe', 'espeak-ng', 'dejavu-fonts'];
