/**
 * `archive grants list|add|revoke|extend`: stored grants for operators without a browser, through
 * the same GrantAdmin (and so the same validation and audit events) as /admin/access and
 * /api/admin/grants. Running web processes see a change within GRANTS_CACHE_SECONDS.
 *
 *   archive grants list [--all] [--json]
 *   archive grants add <pattern> --level members|staff --reason <text> [--from <date>] [--until <date>] [--by <who>]
 *   archive grants extend <id> --until <date>|none [--by <who>]
 *   archive grants revoke <id> [--by <who>]
 *
 * Exit codes as the rest of the CLI: 0 done, 2 usage or invalid input (the message says what),
 * 3 failure (e.g. the store cannot be reached).
 */
import os from 'node:os';
import type { SearchStore } from '../search/store.ts';
import { accessStoreFor } from './access-open.ts';
import { GrantAdmin, type ListedGrant } from './grants-admin.ts';
import { GrantInputError } from './grants.ts';

export class GrantsUsageError extends Error {}

export interface GrantsIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

function who(values: Record<string, string | boolean | undefined>): string {
  const by = typeof values.by === 'string' ? values.by.trim() : '';
  if (by) return by.toLowerCase();
  let user = 'operator';
  try {
    user = os.userInfo().username;
  } catch {
    // no user name (container without passwd entry)
  }
  return `cli:${user}`;
}

function line(g: ListedGrant): string {
  const period = `${g.from ? g.from.slice(0, 16) : '…'} → ${g.until ? g.until.slice(0, 16) : '…'}`;
  return `${g.id}  ${g.status.padEnd(7)}  ${g.level.padEnd(7)}  ${g.pattern}  ${period}  ${g.reason}  (by ${g.granted_by})`;
}

export async function runGrantsCommand(store: SearchStore, args: string[], values: Record<string, string | boolean | undefined>, io: GrantsIO): Promise<number> {
  const [sub, ...rest] = args;
  const access = await accessStoreFor(store);
  if (!access) throw new Error(`the ${store.backend} store keeps no grants`);
  const admin = new GrantAdmin({ store: access });
  try {
    switch (sub) {
      case 'list': {
        if (rest.length > 0) throw new GrantsUsageError(`unexpected argument "${rest[0]}"`);
        const all = await admin.list();
        const shown = values.all ? all : all.filter((g) => g.status === 'active' || g.status === 'future');
        if (values.json) io.out(JSON.stringify({ grants: shown }, null, 2));
        else if (shown.length === 0) io.out(values.all ? 'no grants' : 'no active or future grants (--all shows expired and revoked ones)');
        else for (const g of shown) io.out(line(g));
        return 0;
      }
      case 'add': {
        if (rest.length !== 1) throw new GrantsUsageError('add takes one pattern (an address, *@domain or a service token id)');
        const g = await admin.add({ pattern: rest[0], level: values.level, from: values.from, until: values.until, reason: values.reason }, who(values));
        io.out(`added ${line(g)}`);
        return 0;
      }
      case 'extend': {
        if (rest.length !== 1) throw new GrantsUsageError('extend takes one grant id');
        if (typeof values.until !== 'string') throw new GrantsUsageError('extend needs --until <date> (or --until none)');
        const g = await admin.change(rest[0]!, { until: values.until === 'none' ? null : values.until }, who(values));
        if (!g) throw new GrantInputError(`no grant ${rest[0]}`);
        io.out(`changed ${line(g)}`);
        return 0;
      }
      case 'revoke': {
        if (rest.length !== 1) throw new GrantsUsageError('revoke takes one grant id');
        const g = await admin.revoke(rest[0]!, who(values));
        if (!g) throw new GrantInputError(`no grant ${rest[0]}`);
        io.out(`revoked ${line(g)}`);
        return 0;
      }
      default:
        throw new GrantsUsageError(sub === undefined ? 'say list, add, extend or revoke' : `unknown subcommand "${sub}" (list, add, extend, revoke)`);
    }
  } catch (e) {
    if (e instanceof GrantInputError) throw new GrantsUsageError(e.message);
    throw e;
  }
}
