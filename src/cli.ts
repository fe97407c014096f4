/**
 * `archive <command>`: the operator's command line (run as `node src/cli.ts <command>`).
 *
 * Commands live in one table; the ingest stages (normalize → index → sync, and status) are one
 * entry each, implemented in src/lib/ingest/commands.ts. Exit codes:
 *   0  done
 *   1  done, but something was skipped or failed (each printed, rows as file:sheet:row: message)
 *   2  usage or configuration error (a sentence, no stack trace)
 *   3  failure (store or file system)
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type Config } from './lib/config.ts';
import { formatRowError } from './lib/ingest/excel.ts';
import { loadBibliographies, type LoadReport } from './lib/ingest/load.ts';
import { openStore } from './lib/search/open.ts';
import type { SearchStore } from './lib/search/store.ts';

export interface CliIO {
  env: Record<string, string | undefined>;
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Builds the store; tests may substitute one. Default: openStore(config). */
  openStore?: (cfg: Config) => Promise<SearchStore>;
  /** Raw writer for progress bars, given only when stderr is a terminal. */
  progress?: (text: string) => void;
  /**
   * Installs SIGINT/SIGTERM handlers and returns a signal they abort; called by commands that stop
   * gracefully (sync stops taking new uploads and records what it finished).
   */
  interrupt?: () => AbortSignal;
}

interface Context {
  io: CliIO;
  /** Validated configuration, loaded on first use (a ConfigError ends the command with 2). */
  config(): Config;
  /** The store, opened on first use and closed when the command ends. */
  store(): Promise<SearchStore>;
}

interface Command {
  usage: string;
  summary: string;
  options?: ParseArgsConfig['options'];
  /** Positional arguments: [min, max]. */
  args: [number, number];
  run(ctx: Context, args: string[], values: Record<string, string | boolean | undefined>): Promise<number>;
}

export class UsageError extends Error {}

const EXIT = { ok: 0, skipped: 1, usage: 2, failure: 3 } as const;

function reportLoad(ctx: Context, rep: LoadReport, files: number): number {
  for (const e of rep.errors) ctx.io.err(formatRowError(e));
  for (const u of rep.unknownHeaders) ctx.io.err(`warning: ${u.file}:${u.sheet}: column "${u.header}" is not mapped to any field; ignored`);
  for (const h of rep.skippedSheets ?? []) ctx.io.err(`warning: ${h.file}:${h.sheet}: ${h.state} sheet; skipped (not read as data)`);
  const skipped = rep.errors.filter((e) => e.row !== undefined).length;
  const failedFiles = rep.errors.length - skipped;
  const parts = [
    `loaded ${rep.records} record${rep.records === 1 ? '' : 's'} from ${files} file${files === 1 ? '' : 's'}`,
    `${rep.inserted} new, ${rep.updated} updated`,
  ];
  if (rep.superseded) parts.push(`${rep.superseded} replaced by a later file`);
  if (skipped) parts.push(`${skipped} row${skipped === 1 ? '' : 's'} skipped`);
  if (failedFiles) parts.push(`${failedFiles} file or sheet error${failedFiles === 1 ? '' : 's'}`);
  ctx.io.out(parts.join('; '));
  return rep.errors.length > 0 ? EXIT.skipped : EXIT.ok;
}

export const COMMANDS: Record<string, Command> = {
  demo: {
    usage: 'demo [--force] [--scale <0..1>]',
    summary: 'write the demo delivery (drifting, as real ones do) into DATA_DIR/delivery unless present, then normalize and index it (and sync when S3_BUCKET is set)',
    options: { force: { type: 'boolean' }, scale: { type: 'string' } },
    args: [0, 0],
    run: (ctx, args, values) => ingestCommand('runDemo', ctx, args, values),
  },

  load: {
    usage: 'load [--batch <id>] <file.xlsx>...',
    summary: 'load bibliography workbooks into the store (bad rows are reported and skipped)',
    options: { batch: { type: 'string' } },
    args: [1, Infinity],
    async run(ctx, files, values) {
      ctx.config();
      const store = await ctx.store();
      const rep = await loadBibliographies(store, files, { batch: values.batch as string | undefined });
      return reportLoad(ctx, rep, files.length);
    },
  },

  es: {
    usage: 'es status|migrate|reindex --from store|tree',
    summary:
      'Elasticsearch at ES_URL, alias ES_INDEX: show it; create or migrate its mappings; rebuild it from the SQLite store ' +
      '(--from store) or the clean tree (--from tree [--fresh]: the index stage; or given <file.xlsx>...: the loader), ' +
      'then swap the alias (docs/elasticsearch.md)',
    options: { from: { type: 'string' }, fresh: { type: 'boolean' } },
    args: [1, Infinity],
    async run(ctx, args, values) {
      const { EsUsageError, runEsCommand } = await import('./lib/search/es-admin.ts');
      try {
        return await runEsCommand(ctx.config(), args, values, ctx.io, async (store, files) =>
          files.length > 0
            ? reportLoad(ctx, await loadBibliographies(store, files), files.length)
            : ingestCommand('runIndex', { ...ctx, store: async () => store }, [], {}),
        );
      } catch (e) {
        throw e instanceof EsUsageError ? new UsageError(e.message) : e;
      }
    },
  },

  normalize: {
    usage: 'normalize [--dry-run] [--rules <file.json>] [--print-rules] [<delivery folder>...]',
    summary: 'raw deliveries (default DELIVERY_DIR) -> clean tree of symlinks + meta.json per batch in IMAGE_ROOT',
    options: { 'dry-run': { type: 'boolean' }, rules: { type: 'string' }, 'print-rules': { type: 'boolean' } },
    args: [0, Infinity],
    run: (ctx, args, values) => ingestCommand('runNormalize', ctx, args, values),
  },

  index: {
    usage: 'index [--dry-run] [--batch <id>]...',
    summary: 'clean tree -> search store: the chosen bibliographies, image sizes from the files (bad rows reported, skipped)',
    options: { 'dry-run': { type: 'boolean' }, batch: { type: 'string', multiple: true }, rules: { type: 'string' } },
    args: [0, 0],
    run: (ctx, args, values) => ingestCommand('runIndex', ctx, args, values),
  },

  sync: {
    usage: 'sync [--dry-run] [--batch <id>]... [--concurrency <n>] [--force] [--verify]',
    summary:
      'clean tree -> S3 (S3_BUCKET): upload what is missing, record each upload in the store; resumable. ' +
      '--verify also checks recorded uploads against the bucket (LIST, HEAD when few) and uploads again what is missing',
    options: {
      'dry-run': { type: 'boolean' },
      batch: { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      force: { type: 'boolean' },
      verify: { type: 'boolean' },
      attempts: { type: 'string' },
      'flush-every': { type: 'string' },
    },
    args: [0, 0],
    run: (ctx, args, values) => ingestCommand('runSync', ctx, args, values),
  },

  pyramids: {
    usage: 'pyramids [--batch <id>]... [--concurrency <n>]',
    summary:
      'optional: build the tiled pyramid derivatives of indexed images ahead of any viewer (CACHE_DIR/iiif; first touch ' +
      'builds them otherwise); idempotent, resumable; failures named with file and reason, exit 1',
    options: { batch: { type: 'string', multiple: true }, concurrency: { type: 'string' } },
    args: [0, 0],
    async run(ctx, args, values) {
      const [{ runPyramids }, { StageUsageError }] = await Promise.all([import('./lib/ingest/pyramids.ts'), import('./lib/ingest/commands.ts')]);
      try {
        return await runPyramids(ctx, args, values);
      } catch (e) {
        throw e instanceof StageUsageError ? new UsageError(e.message) : e;
      }
    },
  },

  grants: {
    usage: 'grants list|add|extend|revoke',
    summary:
      'stored access grants (docs/access.md): list [--all] [--json]; add <pattern> --level members|staff --reason <text> ' +
      '[--from <date>] [--until <date>]; extend <id> --until <date>|none; revoke <id> (each change is audited; --by names who)',
    options: {
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      level: { type: 'string' },
      reason: { type: 'string' },
      from: { type: 'string' },
      until: { type: 'string' },
      by: { type: 'string' },
    },
    args: [1, 2],
    async run(ctx, args, values) {
      const { GrantsUsageError, runGrantsCommand } = await import('./lib/access/grants-cli.ts');
      ctx.config();
      try {
        return await runGrantsCommand(await ctx.store(), args, values, ctx.io);
      } catch (e) {
        throw e instanceof GrantsUsageError ? new UsageError(e.message) : e;
      }
    },
  },

  prune: {
    usage: 'prune [--dry-run] [--s3]',
    summary: 'delete withdrawn records (listed by status) for good; with --s3 also the bucket objects of their images no record uses',
    options: { 'dry-run': { type: 'boolean' }, s3: { type: 'boolean' } },
    args: [0, 0],
    run: (ctx, args, values) => ingestCommand('runPrune', ctx, args, values),
  },

  status: {
    usage: 'status [--all] [--json] [--check]',
    summary: 'records and images per batch, what is not in S3 (s3_uploaded:false), last runs of each stage; --check: integrity of the embedded store',
    options: { all: { type: 'boolean' }, json: { type: 'boolean' }, check: { type: 'boolean' } },
    args: [0, 0],
    run: async (ctx, args, values) => {
      const { check, ...rest } = values;
      const integrity = check ? await checkIntegrity(ctx) : EXIT.ok;
      const status = await ingestCommand('runStatus', ctx, args, rest);
      return integrity !== EXIT.ok ? integrity : status;
    },
  },
};

/**
 * `status --check`: PRAGMA quick_check on the embedded store (every page read and checked); the
 * findings on stderr and exit 3 when there are any. Elasticsearch checks its own shards.
 */
async function checkIntegrity(ctx: Context): Promise<number> {
  const store = (await ctx.store()) as SearchStore & { quickCheck?: () => Promise<string[]> };
  if (typeof store.quickCheck !== 'function') {
    ctx.io.out(`integrity: not checked here (the ${store.backend} store checks its own data)`);
    return EXIT.ok;
  }
  const t0 = performance.now();
  const problems = await store.quickCheck();
  if (problems.length === 0) {
    ctx.io.out(`integrity: ok (quick_check of ${ctx.config().store.sqlitePath}, ${Math.round(performance.now() - t0)} ms)`);
    return EXIT.ok;
  }
  ctx.io.err(`integrity: ${ctx.config().store.sqlitePath} is damaged (quick_check found ${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
  for (const p of problems) ctx.io.err(`  ${p}`);
  ctx.io.err('restore the store from a backup, or rebuild it with `archive index` from the deliveries');
  return EXIT.failure;
}

/** Runs one of the ingest commands (loaded on use), mapping its usage errors to ours. */
async function ingestCommand(
  name: 'runDemo' | 'runNormalize' | 'runIndex' | 'runSync' | 'runStatus' | 'runPrune',
  ctx: Context,
  args: string[],
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const commands = await import('./lib/ingest/commands.ts');
  // The demo command (and sharp, which draws its images) is loaded only when asked for.
  const run = name === 'runDemo' ? (await import('./lib/demo/command.ts')).runDemo : commands[name];
  try {
    return await run(ctx, args, values);
  } catch (e) {
    throw e instanceof commands.StageUsageError ? new UsageError(e.message) : e;
  }
}

export function usage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'usage: archive <command> [options]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    `  ${'help [command]'.padEnd(width)}  show this help, or one command's`,
    '',
    'Configuration comes from the environment (DATA_DIR, STORE_BACKEND, IMAGE_ROOT, …).',
    'Exit codes: 0 done, 1 rows skipped, 2 usage or configuration error, 3 failure.',
  ].join('\n');
}

/** Run one command line (without "node cli.ts"); resolves to the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const which = name === 'help' ? rest[0] : undefined;
    if (which !== undefined) {
      const c = COMMANDS[which];
      if (!c) {
        io.err(`archive: unknown command "${which}"\n\n${usage()}`);
        return EXIT.usage;
      }
      io.out(`usage: archive ${c.usage}\n\n${c.summary}`);
    } else io.out(usage());
    return EXIT.ok;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    io.err(`archive: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: archive ${cmd.usage}\n\n${cmd.summary}`);
    return EXIT.ok;
  }

  let cfg: Config | undefined;
  let store: SearchStore | undefined;
  const ctx: Context = {
    io,
    config: () => (cfg ??= loadConfig(io.env, io.cwd)),
    store: async () => (store ??= await (io.openStore ?? openStore)(ctx.config())),
  };
  try {
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: cmd.options ?? {}, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const [min, max] = cmd.args;
    if (parsed.positionals.length < min) throw new UsageError('missing arguments');
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
    return await cmd.run(ctx, parsed.positionals, parsed.values as Record<string, string | boolean | undefined>);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`archive ${name}: ${e.message}\nusage: archive ${cmd.usage}`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(`archive: configuration error: ${e.message}`);
      return EXIT.usage;
    }
    io.err(`archive ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.failure;
  } finally {
    await store?.close().catch(() => {});
  }
}

let interrupted: AbortController | undefined;

/** Aborted by the first SIGINT/SIGTERM; a second one ends the process at once. */
function interruptSignal(): AbortSignal {
  if (interrupted) return interrupted.signal;
  const ac = (interrupted = new AbortController());
  const stop = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: finishing uploads in flight and recording them (again to quit at once)…\n`);
    ac.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return ac.signal;
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), {
    env: process.env,
    cwd: process.cwd(),
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    progress: process.stderr.isTTY ? (text) => process.stderr.write(text) : undefined,
    interrupt: interruptSignal,
  });
  process.exitCode = code;
}
