/**
 * Access levels of items and of users. Ordered: a user at a level sees every item at that level and
 * below (`staff` sees `members` and `open` items too). An item without a level is `open`.
 */
import { ACCESS_LEVELS, type AccessLevel } from '../search/store.ts';

export type { AccessLevel };

export { ACCESS_LEVELS };

export function isAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === 'string' && (ACCESS_LEVELS as readonly string[]).includes(value);
}

/** The levels a user at `level` may see, lowest first. */
export function levelsUpTo(level: AccessLevel): AccessLevel[] {
  return ACCESS_LEVELS.slice(0, ACCESS_LEVELS.indexOf(level) + 1);
}

/**
 * Whether an item at `itemLevel` is visible to someone who may see `levels`. An unknown item level
 * (a store holding a value this code does not know) is visible to nobody: closed by default.
 */
export function canSee(levels: readonly AccessLevel[], itemLevel: AccessLevel | undefined | null): boolean {
  const level = itemLevel ?? 'open';
  return isAccessLevel(level) && levels.includes(level);
}
