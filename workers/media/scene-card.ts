import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { MediaInputError } from './media-input-error.ts';

/** Input of {@link renderSceneCard}. */
export interface SceneCardOptions {
  /** Output size in pixels, integers in 16..8192. */
  width: number;
  height: number;
  /** `#rrggbb`. Text is drawn white or near-black, whichever contrasts more. */
  background: string;
  /** Large, bold, at most 2 lines. Default: none. */
  title?: string;
  /** Word-wrapped body under the title; cut with an ellipsis when it does not fit. Default: none. */
  text?: string;
  /** Where the PNG is written (overwritten). */
  outPath: string;
}

/** Input of {@link fitImage}. */
export interface FitImageOptions {
  /** Encoded image (PNG, JPEG, WebP, GIF, AVIF, TIFF, SVG...). */
  input: Buffer;
  /** Output size in pixels, integers in 16..8192. */
  width: number;
  height: number;
  /** `#rrggbb` for the letterbox bars and behind transparent pixels. */
  background: string;
  /** Where the PNG is written (overwritten). */
  outPath: string;
}

const COLOR_PATTERN = /^#[0-9a-fA-F]{6}$/;
const MIN_SIDE = 16;
const MAX_SIDE = 8192;
// Decompression-bomb guard for user images: 8192×8192 is far beyond any video frame we produce.
const MAX_INPUT_PIXELS = 8192 * 8192;
const FONT_FAMILY = "'DejaVu Sans', sans-serif";
const LINE_HEIGHT_EM = 1.25;
const TITLE_MAX_LINES = 2;

function assertSize(width: number, height: number): void {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < MIN_SIDE || value > MAX_SIDE) {
      throw new MediaInputError(`${name} must be an integer in ${MIN_SIDE}..${MAX_SIDE}, got ${value}`);
    }
  }
}

function assertColor(color: string): void {
  if (!COLOR_PATTERN.test(color))
    throw new MediaInputError(`color must look like #rrggbb, got ${JSON.stringify(color)}`);
}

/** Escapes text for SVG character data and attribute values. */
function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Removes what XML 1.0 cannot contain at all (control characters, lone surrogates, U+FFFE/U+FFFF):
 * escaping does not help there, librsvg would reject the whole document.
 */
function toXmlSafeText(text: string): string {
  return (
    text
      .normalize('NFC')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
  );
}

/** Relative luminance per WCAG, to pick the more readable of white and near-black text. */
function textColorFor(background: string): string {
  const channel = (offset: number): number => {
    const c = Number.parseInt(background.slice(offset, offset + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  // Contrast with white is 1.05/(L+0.05), with #111 about (L+0.05)/0.056; the crossover is near L=0.18.
  return luminance > 0.18 ? '#111111' : '#ffffff';
}

/**
 * Advance width of one character in DejaVu Sans, in em, by class (values from the font's metrics,
 * rounded up). A per-class estimate rather than one average: a line of capitals or "m"/"w" is half
 * again as wide as a line of lowercase, and must not run off the card.
 */
function charWidthEm(char: string): number {
  if (/[iljI.,:;'!|`]/.test(char)) return 0.32;
  if (/[ frtJ()[\]{}"-]/.test(char)) return 0.42;
  if (/[mw]/.test(char)) return 1.0;
  if (/[MW@%]/.test(char)) return 1.0;
  if (/[A-Z&#]/.test(char)) return 0.8;
  if (/[a-z0-9]/.test(char)) return 0.65;
  // Wide scripts (CJK, Hangul, fullwidth forms) and emoji take about a full em.
  if (
    /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|\p{Extended_Pictographic}/u.test(
      char,
    )
  ) {
    return 1.0;
  }
  return 0.7;
}

// DejaVu Sans Bold is about 10% wider than Book.
const BOLD_WIDTH_FACTOR = 1.12;

function textWidthEm(text: string, bold: boolean): number {
  let width = 0;
  for (const char of text) width += charWidthEm(char);
  return bold ? width * BOLD_WIDTH_FACTOR : width;
}

/**
 * Greedy word wrap to lines at most `maxWidthEm` wide (estimated). Explicit newlines start a new line;
 * words wider than a line are split. Returns at most `maxLines` lines, the last one ending in "…" if
 * text was cut.
 */
function wrapText(text: string, maxWidthEm: number, maxLines: number, bold: boolean): string[] {
  const fits = (candidate: string): boolean => textWidthEm(candidate, bold) <= maxWidthEm;
  const lines: string[] = [];
  for (const paragraph of text.split(/\r?\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w.length > 0)) {
      let rest = word;
      while (rest.length > 0) {
        const candidate = line ? `${line} ${rest}` : rest;
        if (fits(candidate)) {
          line = candidate;
          rest = '';
        } else if (line) {
          lines.push(line);
          line = '';
        } else {
          // A single word wider than the line: cut it where it stops fitting (at least one character).
          const chars = Array.from(rest);
          let take = 1;
          while (take < chars.length && fits(chars.slice(0, take + 1).join(''))) take++;
          lines.push(chars.slice(0, take).join(''));
          rest = chars.slice(take).join('');
        }
      }
      // Enough to know the text is cut; do not wrap a novel only to throw it away.
      if (lines.length > maxLines) break;
    }
    if (line) lines.push(line);
    if (lines.length > maxLines) break;
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  let last = kept[kept.length - 1] ?? '';
  while (last.length > 0 && !fits(`${last}…`)) last = Array.from(last).slice(0, -1).join('');
  kept[kept.length - 1] = `${last.trimEnd()}…`;
  return kept;
}

function textBlock(
  lines: string[],
  x: number,
  firstBaseline: number,
  size: number,
  weight: string,
  fill: string,
): string {
  return lines
    .map(
      (line, i) =>
        `<text x="${x}" y="${(firstBaseline + i * size * LINE_HEIGHT_EM).toFixed(1)}" font-family="${FONT_FAMILY}" ` +
        `font-size="${size}" font-weight="${weight}" fill="${fill}" text-anchor="middle">${escapeXml(line)}</text>`,
    )
    .join('');
}

/** Builds the overlay SVG of a scene card: title and wrapped text, centred as one block. */
function sceneCardSvg(width: number, height: number, fill: string, title: string, text: string): string {
  const base = Math.min(width, height);
  const padding = Math.round(base * 0.08);
  const usableWidth = width - 2 * padding;
  const usableHeight = height - 2 * padding;
  const titleSize = Math.max(8, Math.round(base * 0.12));
  const textSize = Math.max(6, Math.round(base * 0.065));
  const titleLineHeight = titleSize * LINE_HEIGHT_EM;
  const textLineHeight = textSize * LINE_HEIGHT_EM;

  const titleLines = title ? wrapText(title, usableWidth / titleSize, TITLE_MAX_LINES, true) : [];
  const gap = titleLines.length > 0 && text ? textSize : 0;
  const heightLeft = usableHeight - titleLines.length * titleLineHeight - gap;
  const maxTextLines = Math.max(0, Math.floor(heightLeft / textLineHeight));
  const textLines =
    text && maxTextLines > 0 ? wrapText(text, usableWidth / textSize, maxTextLines, false) : [];

  const blockHeight = titleLines.length * titleLineHeight + gap + textLines.length * textLineHeight;
  const top = padding + Math.max(0, (usableHeight - blockHeight) / 2);
  const x = width / 2;
  // Baseline of a line sits about 0.8 em below its top (DejaVu ascent is 0.76 em) plus half the leading.
  const titleBaseline = top + titleSize * (0.8 + (LINE_HEIGHT_EM - 1) / 2);
  const textTop = top + titleLines.length * titleLineHeight + gap;
  const textBaseline = textTop + textSize * (0.8 + (LINE_HEIGHT_EM - 1) / 2);

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    textBlock(titleLines, x, titleBaseline, titleSize, 'bold', fill) +
    textBlock(textLines, x, textBaseline, textSize, 'normal', fill) +
    '</svg>'
  );
}

/**
 * Renders a title card: solid `background`, optional bold `title` and word-wrapped `text` in DejaVu Sans,
 * as a PNG of exactly `width`×`height` at `outPath`. Any characters are accepted in the texts (they are
 * XML-escaped; characters XML cannot carry are dropped). Bad size or color → {@link MediaInputError}.
 */
export async function renderSceneCard(options: SceneCardOptions): Promise<void> {
  const { width, height, background, outPath } = options;
  assertSize(width, height);
  assertColor(background);
  const title = toXmlSafeText(options.title ?? '').trim();
  const text = toXmlSafeText(options.text ?? '').trim();

  let image = sharp({ create: { width, height, channels: 3, background } });
  if (title || text) {
    const svg = sceneCardSvg(width, height, textColorFor(background), title, text);
    image = image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  }
  await image.png().toFile(outPath);
}

/**
 * Scales a user image to fit inside `width`×`height` without cropping (EXIF orientation applied),
 * letterboxed and flattened onto `background`, written as a PNG of exactly that size. Undecodable,
 * unsupported or oversized (> 8192×8192 px) input → {@link MediaInputError}; write errors pass through.
 */
export async function fitImage(options: FitImageOptions): Promise<void> {
  const { input, width, height, background, outPath } = options;
  assertSize(width, height);
  assertColor(background);
  let png: Buffer;
  try {
    // Encode in memory first so that decode failures (bad input) and disk failures (ours) stay apart.
    png = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .resize(width, height, { fit: 'contain', background })
      .flatten({ background })
      .png()
      .toBuffer();
  } catch (error) {
    throw new MediaInputError(
      `image cannot be used: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  await writeFile(outPath, png);
}
