import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaInputError } from './media-input-error.ts';
import { fitImage, renderSceneCard } from './scene-card.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scene-card-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function card(name: string, title?: string, text?: string, background = '#204060'): Promise<Buffer> {
  const outPath = join(dir, `${name}.png`);
  await renderSceneCard({ width: 320, height: 180, background, title, text, outPath });
  return readFile(outPath);
}

describe('renderSceneCard', () => {
  it('when rendered, then the PNG has exactly the requested size', async () => {
    const png = await card(
      'size',
      'Title',
      'Some body text that is long enough to wrap over a couple of lines.',
    );
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 320, height: 180 });
  });

  it.each([
    [1280, 720],
    [720, 1280],
    [720, 720],
  ])('when the card is %i×%i, then title and text wrap inside its padding', async (width, height) => {
    const outPath = join(dir, `aspect-${width}x${height}.png`);
    const words = 'Narration that is long enough to wrap over several lines in every aspect ratio. '.repeat(
      3,
    );
    await renderSceneCard({
      width,
      height,
      background: '#000000',
      title: 'A fairly long title',
      text: words,
      outPath,
    });
    const { data, info } = await sharp(outPath).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([width, height]);
    const padding = Math.round(Math.min(width, height) * 0.08);
    let inkRows = 0;
    for (let y = 0; y < height; y++) {
      let rowInk = false;
      for (let x = 0; x < width; x++) {
        if (data[y * width + x]! < 64) continue;
        rowInk = true;
        // Anti-aliasing may bleed a pixel or two, never a glyph.
        expect(x >= padding - 2 && x < width - padding + 2, `ink at x=${x}`).toBe(true);
      }
      if (rowInk) inkRows++;
    }
    // Laid out for the frame: a tall card fills more of its height than its width allows a wide one.
    expect(inkRows).toBeGreaterThan(height * 0.3);
  });

  it('when the text differs, then the image differs', async () => {
    const a = await card('a', 'Same title', 'First text');
    const b = await card('b', 'Same title', 'Second text');
    expect(a.equals(b)).toBe(false);
  });

  it('when there is no text, then the card is the plain background colour', async () => {
    const png = await card('plain', undefined, undefined, '#ff8000');
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([...data.subarray(0, 3)]).toEqual([255, 128, 0]);
    expect(data.every((byte, i) => byte === [255, 128, 0][i % 3])).toBe(true);
  });

  it('when the texts contain XML special and control characters, then it still renders them', async () => {
    const nasty = `<svg onload="x">&amp; ' " ]]> <!-- \u0000\u0007\uD800 --> </text></svg>`;
    const png = await card('xml', nasty, `${nasty} ${'word '.repeat(200)}`);
    expect((await sharp(png).metadata()).width).toBe(320);
    // Something was drawn: not every pixel is the background.
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(data.some((byte, i) => byte !== [0x20, 0x40, 0x60][i % 3])).toBe(true);
  });

  it('when the colour or size is invalid, then it rejects with MediaInputError', async () => {
    const outPath = join(dir, 'invalid.png');
    await expect(
      renderSceneCard({ width: 320, height: 180, background: 'red', outPath }),
    ).rejects.toBeInstanceOf(MediaInputError);
    await expect(
      renderSceneCard({ width: 320, height: 180, background: '#fff"/><x', outPath }),
    ).rejects.toBeInstanceOf(MediaInputError);
    await expect(
      renderSceneCard({ width: 0, height: 180, background: '#ffffff', outPath }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });
});

describe('fitImage', () => {
  it('when the image has another aspect ratio, then it is letterboxed onto the background at the exact size', async () => {
    const input = await sharp({ create: { width: 400, height: 100, channels: 3, background: '#ffffff' } })
      .jpeg()
      .toBuffer();
    const outPath = join(dir, 'fit.png');
    await fitImage({ input, width: 160, height: 90, background: '#000000', outPath });
    const { data, info } = await sharp(outPath).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 160, height: 90, channels: 3 });
    // 400×100 scaled to 160×40: bars above and below, image in the middle.
    expect([...data.subarray(0, 3)]).toEqual([0, 0, 0]);
    const middle = (45 * 160 + 80) * 3;
    expect([...data.subarray(middle, middle + 3)]).toEqual([255, 255, 255]);
  });

  it('when the input is not an image, then it rejects with MediaInputError', async () => {
    const outPath = join(dir, 'not-image.png');
    await expect(
      fitImage({
        input: Buffer.from('<html>nope</html>'),
        width: 160,
        height: 90,
        background: '#000000',
        outPath,
      }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });

  it('when the image is truncated, then it rejects with MediaInputError', async () => {
    const png = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    await expect(
      fitImage({
        input: png.subarray(0, 60),
        width: 160,
        height: 90,
        background: '#000000',
        outPath: join(dir, 'truncated.png'),
      }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });
});
