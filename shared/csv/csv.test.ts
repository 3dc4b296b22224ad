import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from './csv.ts';

describe('csvCell', () => {
  it('when a value is plain text, a number, empty or a date, then it is written as is (dates in ISO 8601)', () => {
    expect(csvCell('images')).toBe('images');
    expect(csvCell(4.5)).toBe('4.5');
    expect(csvCell(0)).toBe('0');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(true)).toBe('true');
    expect(csvCell(new Date('2026-12-02T01:02:03.004Z'))).toBe('2026-12-02T01:02:03.004Z');
  });

  it('when text holds a comma, a quote or a line break, then it is quoted with its quotes doubled (RFC 4180)', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\r\nlf')).toBe('"cr\r\nlf"');
  });

  it('when text starts with = + - @ tab or CR, then it gets a leading quote mark so no spreadsheet evaluates it', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell("-2+3+cmd|' /C calc'!A0")).toBe("'-2+3+cmd|' /C calc'!A0");
    expect(csvCell('@SUM(A1:A9)')).toBe("'@SUM(A1:A9)");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    // Guarded first, then quoted: the quote mark sits inside the quoted field.
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe(
      `"'=HYPERLINK(""http://evil.example"",""x"")"`,
    );
  });

  it('when a value is a number, negative or signed, then it stays numeric (no quote mark)', () => {
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell(-0.25)).toBe('-0.25');
    expect(csvCell('-3')).toBe('-3');
    expect(csvCell('+1.5')).toBe('+1.5');
    expect(csvCell('-2e-3')).toBe('-2e-3');
    expect(csvCell('-.5')).toBe('-.5');
    // Looks numeric to Number() but is not a plain decimal: guarded.
    expect(csvCell('-0x1F')).toBe("'-0x1F");
    expect(csvCell('-Infinity')).toBe("'-Infinity");
    expect(csvCell('- 3')).toBe("'- 3");
  });

  it('when text only contains a formula character later on, then it is left alone', () => {
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell('user@example.com')).toBe('user@example.com');
  });
});

describe('csvRow', () => {
  it('when cells are joined, then each is escaped and the record ends with CRLF', () => {
    expect(csvRow(['evt_1', '=cmd', -1, null, 'a,b'])).toBe(`evt_1,'=cmd,-1,,"a,b"\r\n`);
  });
});
