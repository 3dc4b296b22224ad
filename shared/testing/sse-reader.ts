/** One Server-Sent Events message as a test sees it. */
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Reads an SSE response body message by message (`next()` waits for the next one, null at the
 * end of the stream); comments (heartbeats) are counted, not returned.
 */
export function readSse(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let comments = 0;
  const queue: SseMessage[] = [];
  let done = false;

  function parse() {
    for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const msg: SseMessage = { data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments += 1;
        else if (line.startsWith('id: ')) msg.id = line.slice(4);
        else if (line.startsWith('event: ')) msg.event = line.slice(7);
        else if (line.startsWith('data: ')) {
          msg.data += (hasData ? '\n' : '') + line.slice(6);
          hasData = true;
        }
      }
      if (hasData) queue.push(msg);
    }
  }

  return {
    get comments() {
      return comments;
    },
    async next(): Promise<SseMessage | null> {
      while (queue.length === 0 && !done) {
        const chunk = await reader.read();
        if (chunk.done) done = true;
        else buffer += decoder.decode(chunk.value, { stream: true });
        parse();
      }
      return queue.shift() ?? null;
    },
    async cancel() {
      await reader.cancel().catch(() => undefined);
    },
  };
}
