// Text from files made safe for a terminal: control characters (C0, DEL, C1, bidi overrides) escaped as \uXXXX, long names cut.

/** Characters a terminal may act on: C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder text. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, but keeping newline and tab: for whole lines of a command's own output. */
const CONTROL_IN_OUTPUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Names longer than this are cut (with the count of characters left out) where printed. */
export const MAX_PRINTED_NAME = 200;

/**
 * One string from a file (a model or op name, a schedule, a path), printable on one terminal line: every control
 * character escaped as \uXXXX (inside JSON text that escape means the same character), and cut after `max` characters.
 */
export function printable(s: unknown, max = MAX_PRINTED_NAME): string {
  const text = String(s);
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
  return cut.replace(CONTROL, hex);
}

/** A command's whole output: control characters escaped as in `printable`, newlines and tabs kept; nothing cut. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL_IN_OUTPUT, hex);
}
