/** How the CLI writes: a table for people by default, one JSON document (or NDJSON line) with `--json`. */
export interface Output {
  json: boolean;
  /** `value` as JSON with --json, else the table/text `human()` renders. */
  print(value: unknown, human?: () => string): void;
  /** One NDJSON line (--json) or a line of text on stderr (progress, notices). */
  note(value: Record<string, unknown>, text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    print(value, human) {
      process.stdout.write(json || !human ? `${JSON.stringify(value)}\n` : `${human()}\n`);
    },
    note(value, text) {
      if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
      else process.stderr.write(`${text}\n`);
    },
  };
}

type Cell = string | number | boolean | null | undefined;

/** Aligned columns under a header row; an empty list says so instead of printing a bare header. */
export function table(headers: string[], rows: Cell[][]): string {
  if (rows.length === 0) return '(none)';
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n');
}

/** `[#########          ]  45% narrate` redrawn in place on a TTY. */
export function progressBar(progress: number, step: string | undefined): string {
  const width = 30;
  const n = Math.max(0, Math.min(width, Math.round(progress * width)));
  return `\r[${'#'.repeat(n)}${' '.repeat(width - n)}] ${String(Math.round(progress * 100)).padStart(3)}% ${step ?? ''}   `;
}
