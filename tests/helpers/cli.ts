/** Runs the archive CLI (src/cli.ts) in-process in `cwd`, with its output captured line by line. */
import { main, type CliIO } from '../../src/cli.ts';

export async function runCli(cwd: string, argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { env, cwd, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
