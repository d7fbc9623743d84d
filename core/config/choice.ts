// The one parser of an enumeration (a schedule, a recompute mode, an export format…): any case in, the canonical spelling out.

/** `value` in any case (`1F1B`, `ZB-H1`) → its canonical spelling among `choices`, or undefined. */
export function choice<T extends string>(value: unknown, choices: readonly T[]): T | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return choices.find((c) => c.toLowerCase() === v);
}
