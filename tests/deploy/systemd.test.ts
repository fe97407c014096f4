/**
 * The small-VPS unit (deploy/systemd/archive.service): the settings the operator documentation
 * promises, and `systemd-analyze verify` when systemd is installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const UNIT = path.join(ROOT, 'deploy', 'systemd', 'archive.service');
const text = readFileSync(UNIT, 'utf8');

/** Section -> key -> every value assigned (systemd keys may repeat). */
function parseUnit(source: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) continue;
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const service = parseUnit(text).get('Service') ?? new Map<string, string[]>();
const one = (key: string) => service.get(key)?.at(-1);
const environment = Object.fromEntries(
  (service.get('Environment') ?? []).flatMap((v) => v.split(/\s+/)).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

describe('deploy/systemd/archive.service', () => {
  it('runs the start script as the archive user from /opt/archive with /etc/archive/env', () => {
    expect(one('User')).toBe('archive');
    expect(one('WorkingDirectory')).toBe('/opt/archive');
    expect(one('EnvironmentFile')).toBe('/etc/archive/env');
    expect(one('ExecStart')).toBe('/opt/archive/node_modules/.bin/node scripts/start.ts');
  });

  it('binds to loopback and refuses any other HOST before starting', () => {
    expect(environment.HOST).toBe('127.0.0.1');
    expect(service.get('ExecStartPre')?.join('\n')).toMatch(/HOST.*127\.\*/);
  });

  it('refuses a data directory outside the one writable path', () => {
    expect(environment.DATA_DIR).toBe('/var/lib/archive');
    expect(service.get('ExecStartPre')?.join('\n')).toMatch(/DATA_DIR.*\/var\/lib\/archive\|\/var\/lib\/archive\/\*/);
  });

  it('restarts on failure, but not on a configuration error', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('2');
  });

  it('stops gracefully', () => {
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('TimeoutStopSec')).toMatch(/^\d+s?$/);
  });

  it('is confined: memory cap, read-only system, the data directory as the only writable path', () => {
    expect(one('MemoryMax')).toMatch(/^\d+[KMG]?$/);
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
    ]) {
      expect(one(key), key).toBe(value);
    }
    expect(one('ReadWritePaths')?.split(/\s+/)).toContain(environment.DATA_DIR);
    expect(one('CapabilityBoundingSet')).toBe('');
    // V8's JIT needs W+X memory: this setting would kill Node.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
  });
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const hasSystemd = !analyze.error && analyze.status === 0;
if (!hasSystemd) console.log('skipped: systemd-analyze is not installed, so `systemd-analyze verify` of archive.service did not run.');

describe.runIf(hasSystemd)('systemd-analyze verify', () => {
  it('accepts the unit', () => {
    // verify also checks that ExecStart= exists: point it at this Node for the check only.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'archive-unit-'));
    const copy = path.join(dir, 'archive.service');
    writeFileSync(copy, text.replace('/opt/archive/node_modules/.bin/node', process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('');
  });
});
