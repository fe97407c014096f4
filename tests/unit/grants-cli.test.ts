/**
 * `archive grants list|add|extend|revoke` on a SQLite store in a temporary DATA_DIR: the same
 * validation as the API (exit 2 with the message), audit events for each change, and the
 * change visible to a web process reading the same store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { accessStoreFor } from '../../src/lib/access/access-open.ts';
import { GrantBook } from '../../src/lib/access/grant-book.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'grants-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { env: { DATA_DIR: dir }, cwd: dir, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();

test('add, list, extend, revoke, with validation and audit', async () => {
  expect((await run('grants', 'list')).out).toMatch(/no active or future grants/);

  for (const [args, message] of [
    [['grants', 'add', 'reader@', '--level', 'members', '--reason', 'r'], /pattern.*not an e-mail address/],
    [['grants', 'add', '*@lab.example.org', '--level', 'owner', '--reason', 'r'], /unknown level "owner"/],
    [['grants', 'add', '*@lab.example.org', '--level', 'members', '--reason', 'r', '--from', '2027-02-01', '--until', '2027-01-01'], /must be after from/],
    [['grants', 'add', '*@lab.example.org', '--level', 'members'], /reason/],
    [['grants', 'frob'], /unknown subcommand "frob"/],
    [['grants', 'revoke'], /revoke takes one grant id/],
  ] as const) {
    const r = await run(...args);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/usage: archive grants/);
  }

  const added = await run('grants', 'add', '*@LAB.example.org', '--level', 'members', '--until', tomorrow(), '--reason', 'research request 17', '--by', 'curator@example.org');
  expect(added.code).toBe(0);
  const id = /^added (\S+)\s+active\s+members\s+\*@lab\.example\.org/.exec(added.out)?.[1];
  expect(id).toBeTruthy();

  const list = await run('grants', 'list', '--json');
  expect(JSON.parse(list.out).grants.map((g: { id: string }) => g.id)).toEqual([id]);

  // A web process on the same store sees it.
  const store = new SqliteStore(path.join(dir, 'archive.sqlite'));
  await store.init();
  const access = (await accessStoreFor(store))!;
  const book = new GrantBook({ store: async () => access, rules: { staff: [], members: [] }, ttlMs: 0 });
  expect((await book.resolve('reader@lab.example.org')).level).toBe('members');

  expect((await run('grants', 'extend', id!, '--until', 'none')).code).toBe(0);
  expect((await run('grants', 'extend', 'no-such-grant', '--until', 'none')).err).toMatch(/no grant no-such-grant/);
  const revoked = await run('grants', 'revoke', id!, '--by', 'curator@example.org');
  expect(revoked.code).toBe(0);
  expect(revoked.out).toMatch(/revoked .*revoked/);
  expect((await book.resolve('reader@lab.example.org')).level).toBe('open');
  expect((await run('grants', 'list')).out).toMatch(/no active or future grants/);
  expect((await run('grants', 'list', '--all')).out).toContain(`${id}  revoked`);

  const events = await access.listAudit({ grant: id });
  // (Sorted by type: the three may share a millisecond.)
  expect(events.map((e) => [e.type, e.actor]).sort()).toEqual([
    ['grant.add', 'curator@example.org'],
    ['grant.change', expect.stringMatching(/^cli:/)],
    ['grant.revoke', 'curator@example.org'],
  ]);
  await store.close();
});
