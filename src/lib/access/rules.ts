/**
 * Authorisation rules: which users see `members` and `staff` items. Every authenticated user sees
 * `open` items; a rule raises a user to a higher level.
 *
 * Format (JSON, from ACCESS_RULES or the file named by ACCESS_RULES_FILE):
 *
 *   { "staff":   ["curator@example.org", "*@archive.example.org"],
 *     "members": ["*@example.ac.jp", "guest@example.com"] }
 *
 * A pattern is an exact identity (an e-mail address, compared case-insensitively; or a Cloudflare
 * service token's client id), `*@domain` (every address at exactly that domain, not its
 * subdomains), or `*` (every authenticated user). A user gets the highest level any pattern of
 * theirs matches. Pure: matching only (the parser is in src/lib/domain.ts).
 */
// The rules' format, their parser and the e-mail check live in the ground-floor domain module, so that
// config (which validates ACCESS_RULES at start-up) needs nothing above it; re-exported here for the
// access layer.
import { levelsUpTo, type AccessLevel, type AccessRules } from '../domain.ts';

export { NO_RULES, checkPattern, normalizeEmail, parseRules, type AccessRules } from '../domain.ts';

/** Whether a validated pattern matches a trimmed, lower-cased identity. */
export function matches(pattern: string, identity: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*@')) {
    const at = identity.indexOf('@');
    return at > 0 && at === identity.lastIndexOf('@') && identity.slice(at + 1) === pattern.slice(2);
  }
  return pattern === identity;
}

/** The level of an authenticated identity (e-mail or service token id) under the rules. */
export function levelFor(identity: string, rules: AccessRules): AccessLevel {
  const id = identity.trim().toLowerCase();
  if (rules.staff.some((p) => matches(p, id))) return 'staff';
  if (rules.members.some((p) => matches(p, id))) return 'members';
  return 'open';
}

/** The levels an identity may see, lowest first. */
export function levelsFor(identity: string, rules: AccessRules): AccessLevel[] {
  return levelsUpTo(levelFor(identity, rules));
}
