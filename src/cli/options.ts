/** Parses a non-negative whole-number option, naming the option in the error (`--users must be …`). */
export function wholeNumber(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
    return parsed;
  };
}
