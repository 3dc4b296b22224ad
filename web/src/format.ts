const METRIC_LABELS: Record<string, string> = {
  render_seconds: 'Render seconds',
  tts_seconds: 'Speech seconds',
  images: 'Images',
  storage_bytes: 'Storage',
};

export const metricLabel = (metric: string): string => METRIC_LABELS[metric] ?? metric;

export function formatQuantity(metric: string, n: number): string {
  if (metric === 'storage_bytes') {
    if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
    return `${Math.round(n / 1e3)} kB`;
  }
  const rounded = Math.round(n * 10) / 10;
  return metric.endsWith('_seconds') ? `${rounded.toLocaleString('en')} s` : rounded.toLocaleString('en');
}

export function formatTime(iso: string | null): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

export function formatDuration(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '—';
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  const s = Math.max(0, ms / 1000);
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'canceled']);
