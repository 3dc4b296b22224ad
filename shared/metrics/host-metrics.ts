import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { withTimeout } from '../async/with-timeout.ts';

/**
 * `/metrics` of a host that runs several processes of one service (node:cluster, API_PROCESSES):
 * whichever process takes the scrape asks the primary, which collects every process's registry
 * through prom-client's AggregatorRegistry and answers with their sum. Prometheus then sees one
 * host, whichever process it reached, instead of a different process's counters each scrape.
 *
 * Both sides of the exchange are here: `serveHostMetrics` in the primary, `createHostMetrics`
 * in every process. Outside a cluster `createHostMetrics` is the registry itself.
 */
export interface HostMetrics {
  contentType: string;
  /** The text exposition of the whole host; rejects after `timeoutMs` rather than hang a scrape. */
  text(): Promise<string>;
}

const REQUEST = 'rendermill:host-metrics-request';
const RESPONSE = 'rendermill:host-metrics-response';

interface Request {
  type: typeof REQUEST;
  id: number;
}
interface Response {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

/**
 * Below prom-client's own 5 s (a process that dies mid-collection never answers and the primary
 * waits that long) and Prometheus's default 10 s scrape timeout.
 */
const DEFAULT_TIMEOUT_MS = 3_000;

/**
 * What `/metrics` serves. In a cluster worker it also registers `registry` as the one this
 * process contributes (prom-client aggregates the global registry otherwise, which we leave
 * empty) and starts answering the primary's collection requests: call it once, at start-up, in
 * every worker, so that a scrape taken by any of them reaches all of them.
 */
export function createHostMetrics(registry: Registry, opts: { timeoutMs?: number } = {}): HostMetrics {
  if (!cluster.isWorker) return { contentType: registry.contentType, text: () => registry.metrics() };
  AggregatorRegistry.setRegistries([registry]);
  // The constructor is what installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    const m = message as Partial<Response> | null;
    if (m?.type !== RESPONSE || typeof m.id !== 'number') return;
    const waiter = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) waiter?.reject(new Error(m.error));
    else waiter?.resolve(m.text ?? '');
  });
  return {
    contentType: registry.contentType,
    text() {
      const id = next++;
      const answer = new Promise<string>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: Request = { type: REQUEST, id };
        // With a callback, a closed channel (the primary is gone) is an error here, not an
        // 'error' event nobody listens to.
        process.send?.(request, undefined, undefined, (err: Error | null) => {
          if (err) reject(err);
        });
      });
      return withTimeout(answer, timeoutMs, 'metrics of the other processes').finally(() =>
        pending.delete(id),
      );
    },
  };
}

/** In the cluster primary: answers every worker's request with the sum of all workers' metrics. */
export function serveHostMetrics(): () => void {
  const aggregator = new AggregatorRegistry();
  const onMessage = (worker: Worker, message: unknown) => {
    const m = message as Partial<Request> | null;
    if (m?.type !== REQUEST || typeof m.id !== 'number') return;
    const id = m.id;
    const reply = (r: Omit<Response, 'type' | 'id'>) => {
      // The asker may have died meanwhile; a send on a closed channel must not throw here.
      if (worker.isConnected()) worker.send({ type: RESPONSE, id, ...r }, undefined, () => undefined);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}
