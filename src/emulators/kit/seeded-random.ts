/** A source of numbers in [0, 1); emulators draw from a seeded one so every run repeats. */
export type Random = () => number;

/** mulberry32: small, fast and deterministic, so the same seed always builds the same org and the same faults. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks one of `items` with `random`, each about equally often. */
export function pickWith(random: Random): <T>(items: readonly T[]) => T {
  return (items) => items[Math.floor(random() * items.length)]!;
}
