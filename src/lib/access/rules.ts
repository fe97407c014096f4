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
 * theirs matches. Pure: parsing and matching only.
 */
import { levelsUpTo, type AccessLevel } from '../domain.ts';

export interface AccessRules {
  members: string[];
  staff: string[];
}

export const NO_RULES: AccessRules = { members: [], staff: [] };

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$/;
const IDENTITY_RE = /^[^\s@,;"<>]{1,128}@([a-z0-9.-]{1,253})$/;

/** A well-formed e-mail address (lower case), or undefined. Deliberately simple and strict. */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v.length > 254) return undefined;
  const m = IDENTITY_RE.exec(v);
  return m && DOMAIN_RE.test(m[1]!) ? v : undefined;
}

/** A validated, lower-cased pattern (module comment); throws an Error naming `where` and the problem. */
export function checkPattern(pattern: unknown, where: string): string {
  if (typeof pattern !== 'string' || pattern.trim() === '') throw new Error(`${where}: a pattern must be a non-empty string`);
  const p = pattern.trim().toLowerCase();
  if (p === '*') return p;
  if (p.startsWith('*@')) {
    if (!DOMAIN_RE.test(p.slice(2))) throw new Error(`${where}: "${pattern}" is not *@ followed by a domain name`);
    return p;
  }
  if (p.includes('*')) throw new Error(`${where}: "${pattern}": only "*" and "*@domain" may contain *`);
  if (p.includes('@')) {
    if (!normalizeEmail(p)) throw new Error(`${where}: "${pattern}" is not an e-mail address`);
    return p;
  }
  // A Cloudflare service token's client id (e.g. "0123abcd.access").
  if (!/^[a-z0-9._-]{1,128}$/.test(p)) throw new Error(`${where}: "${pattern}" is neither an e-mail address, *@domain, nor a service token id`);
  return p;
}

/** Parses and validates rules; throws an Error whose message names the problem. */
export function parseRules(text: string): AccessRules {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`is not valid JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must be a JSON object like {"members": ["*@example.ac.jp"], "staff": ["curator@example.org"]}');
  const rules: AccessRules = { members: [], staff: [] };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'open') throw new Error('"open" needs no rule: every authenticated user sees open items');
    if (key !== 'members' && key !== 'staff') throw new Error(`unknown level "${key}" (levels with rules: members, staff)`);
    if (!Array.isArray(value)) throw new Error(`"${key}" must be an array of patterns`);
    if (value.length > 10_000) throw new Error(`"${key}" has more than 10000 patterns`);
    rules[key] = value.map((p, i) => checkPattern(p, `${key}[${i}]`));
  }
  return rules;
}

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
