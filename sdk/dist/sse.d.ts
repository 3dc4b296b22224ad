/** One Server-Sent Events message. */
export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}
/** Parses an SSE byte stream (WHATWG rules: `\n`, `\r\n` or `\r` line ends, comments ignored). */
export declare function parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage>;
