import { open } from 'node:fs/promises';

/**
 * Duration of a PCM WAV file from its header (data bytes / byte rate), or null when the header
 * is not one we can trust (streamed WAVs with a placeholder size, compressed formats). Reading
 * 4 KB beats spawning ffprobe (~50 ms) for every narration a render speaks.
 */
export async function wavDurationSeconds(path: string): Promise<number | null> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(4096);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const buf = head.subarray(0, bytesRead);
    if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
      return null;
    let byteRate = 0;
    let offset = 12;
    while (offset + 8 <= buf.length) {
      const id = buf.toString('ascii', offset, offset + 4);
      const len = buf.readUInt32LE(offset + 4);
      const body = offset + 8;
      if (id === 'fmt ') {
        if (body + 16 > buf.length || buf.readUInt16LE(body) !== 1) return null; // PCM only
        byteRate = buf.readUInt32LE(body + 8);
      } else if (id === 'data') {
        // A streaming writer may leave a placeholder; trust the header only if it fits the file.
        const dataBytes = len > 0 && body + len <= size ? len : null;
        return byteRate > 0 && dataBytes !== null ? dataBytes / byteRate : null;
      }
      offset = body + len + (len % 2);
    }
    return null;
  } finally {
    await file.close();
  }
}
