/**
 * The lexical layer shared by filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): the text becomes
 * punctuation, JSON strings and "words". A word is any run of characters that is neither whitespace,
 * punctuation nor a quote; what a word means (attribute path, operator, keyword, unquoted value) depends on
 * where the parser meets it. That is what lets `not eq pr` (an attribute named `eq`), `value eq 123abc` and
 * `meta.created gt 2015-10-10T14:38:21.8617979-07:00` (unquoted values real clients send) tokenize at all:
 * a classic keyword/identifier/number lexer would have to guess before the grammar knows.
 */

export type Token =
  | { kind: '(' | ')' | '[' | ']'; position: number }
  | { kind: 'string'; value: string; raw: string; position: number }
  | { kind: 'word'; text: string; position: number }
  | { kind: 'end'; position: number };

/** Reports a syntax error: `invalidFilter` for a filter, `invalidPath` for a PATCH path. */
export type SyntaxErrorAt = (position: number, message: string) => Error;

/** Refuse hostile input before doing any work on it; no client filter comes near this. */
export const MAX_TEXT_LENGTH = 10_000;

const PUNCTUATION = new Set(['(', ')', '[', ']']);
const isSpace = (char: string) => char === ' ' || char === '\t' || char === '\n' || char === '\r';
const endsWord = (char: string) => isSpace(char) || PUNCTUATION.has(char) || char === '"';

/** Splits `text` into tokens, always ending with an `end` token. */
export function tokenize(text: string, fail: SyntaxErrorAt): Token[] {
  if (text.length > MAX_TEXT_LENGTH) throw fail(MAX_TEXT_LENGTH, `longer than ${MAX_TEXT_LENGTH} characters`);
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    if (isSpace(char)) {
      index += 1;
    } else if (PUNCTUATION.has(char)) {
      tokens.push({ kind: char as '(' | ')' | '[' | ']', position: index });
      index += 1;
    } else if (char === '"') {
      const token = readString(text, index, fail);
      tokens.push(token);
      index += token.raw.length;
    } else {
      let end = index + 1;
      while (end < text.length && !endsWord(text.charAt(end))) end += 1;
      tokens.push({ kind: 'word', text: text.slice(index, end), position: index });
      index = end;
    }
  }
  tokens.push({ kind: 'end', position: text.length });
  return tokens;
}

/** A JSON string literal (RFC 8259 §7), decoded by JSON.parse so escapes mean exactly what JSON says. */
function readString(text: string, start: number, fail: SyntaxErrorAt): Extract<Token, { kind: 'string' }> {
  let index = start + 1;
  while (index < text.length && text.charAt(index) !== '"') index += text.charAt(index) === '\\' ? 2 : 1;
  if (index >= text.length) throw fail(start, 'unterminated string (no closing \'"\')');
  const raw = text.slice(start, index + 1);
  try {
    return { kind: 'string', value: JSON.parse(raw) as string, raw, position: start };
  } catch {
    throw fail(start, `invalid string ${raw} (bad escape or control character)`);
  }
}

/** How a token reads in an error message; `text` names what is being parsed ("filter", "path"). */
export function describeToken(token: Token, text: string): string {
  switch (token.kind) {
    case 'end':
      return `the end of the ${text}`;
    case 'string':
      return `the string ${token.raw}`;
    case 'word':
      return `'${token.text}'`;
    default:
      return `'${token.kind}'`;
  }
}
