/**
 * The one CSV writer (usage export, GDPR export): RFC 4180 records, and a guard against spreadsheet
 * formula injection (OWASP "CSV Injection"): a text cell that starts with `=`, `+`, `-`, `@`, a tab
 * or a carriage return gets a leading `'`, so Excel, LibreOffice and Sheets show it as text instead
 * of evaluating it.
 *
 * Numbers stay numeric: a JS number is written as it is, and so is text that is exactly a decimal
 * number (`-3`, `+1.5`, `2e-3`; Postgres `numeric` columns arrive as such strings). A spreadsheet
 * reads those as the number they are; only text that is not a plain number can be a formula.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** One cell: `null`/`undefined` empty, a Date in ISO 8601, text guarded, then quoted when needed. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = value instanceof Date ? value.toISOString() : String(value);
  const safe = FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
  // RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One record: the cells joined by commas, ended by CRLF (RFC 4180). */
export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
