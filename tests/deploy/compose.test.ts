/**
 * Invariants of the production deployment files (docker-compose.yml, Dockerfile, .dockerignore,
 * .env.example, deploy/cloudflared/*.yml), checked by reading them — no Docker engine needed.
 * When Debian's docker-compose is on PATH (deploy/check-compose.sh installs it), the file is also
 * validated and interpolated by Compose itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ENV, type EnvName } from '../../src/lib/config.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Healthcheck = { test?: string | string[]; disable?: boolean };
type Service = {
  image?: string;
  container_name?: string;
  hostname?: string;
  build?: string | { context?: string; args?: Record<string, string> | string[] };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  ports?: unknown;
  expose?: unknown[];
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
  healthcheck?: Healthcheck;
  profiles?: string[];
  restart?: string;
  volumes?: string[];
};
type Compose = {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
};

const compose = yaml.load(read('docker-compose.yml')) as Compose;
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};

function envOf(s: Service): Record<string, string> {
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(s.environment.map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

const networksOf = (s: Service): string[] => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));

/** One-shot services (restart: "no") run to completion; every other service is long-running. */
const isOneShot = (s: Service) => s.restart === 'no';

/** Every environment variable src/lib/config.ts reads: the keys of its schema, read as data. */
function configVariables(): string[] {
  return Object.keys(ENV).sort();
}

/** The schema's default of a variable as .env.example would write it, when it is a plain value. */
function declaredDefault(name: EnvName): string | undefined {
  const r = ENV[name].safeParse(undefined);
  return r.success && ['string', 'number', 'boolean'].includes(typeof r.data) ? String(r.data) : undefined;
}

/** `NAME=value` lines of .env.example, with the comment block right above each. */
function envExample(): Map<string, { value: string; comment: string }> {
  const out = new Map<string, { value: string; comment: string }>();
  let comment: string[] = [];
  for (const line of read('.env.example').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) {
      out.set(m[1], { value: m[2], comment: comment.join(' ') });
      comment = [];
    } else if (line.startsWith('#')) {
      comment.push(line.replace(/^#\s?/, ''));
    } else {
      comment = [];
    }
  }
  return out;
}

/** Variables docker-compose.yml interpolates (`${NAME}`, `${NAME:-x}`, `${NAME:?x}`; not `$${…}`). */
function composeVariables(): string[] {
  const names = new Set<string>();
  for (const m of read('docker-compose.yml').matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  return [...names].sort();
}

/** Splits an image reference into repository and tag (a registry port is not a tag). */
function imageTag(image: string): { repository: string; tag: string | undefined } {
  const withoutDigest = image.split('@')[0];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon === -1
    ? { repository: withoutDigest, tag: undefined }
    : { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
}

describe('docker-compose.yml', () => {
  it('has the services of the production stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['cantaloupe', 'cloudflared', 'elasticsearch', 'minio', 'minio-init', 'web'].sort(),
    );
  });

  it('publishes no port: services only expose ports on internal networks', () => {
    for (const [name, s] of services) {
      expect(s.ports, `${name} must not publish ports`).toBeUndefined();
      expect(s.network_mode, `${name} must not share the host network`).toBeUndefined();
    }
    expect(service('web').expose?.map(String)).toContain('4321');
  });

  // cloudflared dials out to Cloudflare; web fetches the Access signing keys (JWKS) from
  // <team>.cloudflareaccess.com to verify every request. Nothing else may reach the outside.
  const EGRESS = ['cloudflared', 'web'];

  it('puts every service on the internal network, and only cloudflared and web on a network with egress', () => {
    const networks = compose.networks ?? {};
    const internal = (n: string) => networks[n]?.internal === true;
    for (const [name, s] of services) {
      const attached = networksOf(s);
      // A service without `networks:` would land on the default network, which has egress.
      expect(attached.length, `${name} must list its networks`).toBeGreaterThan(0);
      for (const n of attached) expect(Object.keys(networks), `${name} uses undeclared network ${n}`).toContain(n);
      expect(attached.some(internal), `${name} must be on an internal network`).toBe(true);
      const withEgress = attached.filter((n) => !internal(n));
      if (EGRESS.includes(name)) expect(withEgress.length, `${name} needs a way out`).toBeGreaterThan(0);
      else expect(withEgress, `${name} must have no egress`).toEqual([]);
    }
  });

  it('runs cloudflared with the tunnel token from the environment and the mounted ingress config', () => {
    const cf = service('cloudflared');
    expect(imageTag(cf.image ?? '').repository).toBe('cloudflare/cloudflared');
    const command = Array.isArray(cf.command) ? cf.command : String(cf.command ?? '').split(/\s+/);
    expect(command[0]).toBe('tunnel');
    expect(command).toContain('--no-autoupdate');
    expect(command.at(-1)).toBe('run');
    expect(envOf(cf).TUNNEL_TOKEN).toMatch(/^\$\{TUNNEL_TOKEN(:[?-][^}]*)?\}$/);
    const configPath = command[command.indexOf('--config') + 1];
    expect(cf.volumes ?? []).toContain(`./deploy/cloudflared/config.yml:${configPath}:ro`);
    // The token goes to cloudflared only.
    for (const [name, s] of services) {
      if (name !== 'cloudflared') expect(Object.keys(envOf(s)), name).not.toContain('TUNNEL_TOKEN');
    }
  });

  it('pins every image to a concrete tag, never latest', () => {
    for (const [name, s] of services) {
      if (!s.image) {
        expect(s.build, `${name} has neither image nor build`).toBeDefined();
        continue;
      }
      expect(s.image, `${name}: no interpolation in image references`).not.toContain('$');
      const { tag } = imageTag(s.image);
      expect(tag, `${name}: ${s.image} has no tag`).toBeDefined();
      expect(tag?.toLowerCase(), `${name}: ${s.image}`).not.toBe('latest');
      // Pulled images carry a version (floating names such as stable, main or edge have no digit).
      if (!s.build) expect(tag, `${name}: ${s.image} is not a version tag`).toMatch(/\d/);
    }
  });

  it('health-checks every long-running service', () => {
    const oneShots = services.filter(([, s]) => isOneShot(s)).map(([n]) => n);
    expect(oneShots).toEqual(['minio-init']);
    for (const [name, s] of services) {
      if (isOneShot(s)) continue;
      const test = s.healthcheck?.test;
      expect(test, `${name} has no healthcheck`).toBeDefined();
      expect(s.healthcheck?.disable, name).not.toBe(true);
      const argv = Array.isArray(test) ? test : [String(test)];
      expect(argv[0], name).not.toBe('NONE');
      expect(argv.join(' ').length, name).toBeGreaterThan(10);
    }
    expect(JSON.stringify(service('elasticsearch').healthcheck?.test)).toMatch(/curl.*_cluster\/health/);
    expect(JSON.stringify(service('web').healthcheck?.test)).toContain('/healthz');
  });

  it('keeps cantaloupe behind its profile, configured from the environment with redundant AWS credentials', () => {
    const c = service('cantaloupe');
    expect(c.profiles).toEqual(['cantaloupe']);
    for (const [name, s] of services) if (name !== 'cantaloupe') expect(s.profiles, name).toBeUndefined();
    expect(imageTag(c.image ?? '').repository).toBe('islandora/cantaloupe');
    const env = envOf(c);
    expect(env.CANTALOUPE_SOURCE_STATIC).toBe('S3Source');
    expect(env.CANTALOUPE_S3SOURCE_ENDPOINT).toBe('http://minio:9000');
    expect(env.CANTALOUPE_S3SOURCE_LOOKUP_STRATEGY).toBe('BasicLookupStrategy');
    expect(env.CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_BUCKET_NAME).toMatch(/\$\{S3_BUCKET\b/);
    expect(env.CANTALOUPE_ENDPOINT_IIIF_3_ENABLED).toBe('true');
    expect(env.CANTALOUPE_CACHE_SERVER_DERIVATIVE_ENABLED).toBe('true');
    expect(env.CANTALOUPE_MAX_PIXELS).toBeTruthy();
    // Cantaloupe must find an image under the same key as the app does.
    expect(env.CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_PATH_PREFIX).toBe(envOf(service('web')).S3_PREFIX);
    // The AWS SDK default chain must find the same key, secret and region as Cantaloupe's config.
    expect(env.AWS_ACCESS_KEY_ID).toBe(env.CANTALOUPE_S3SOURCE_ACCESS_KEY_ID);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(env.CANTALOUPE_S3SOURCE_SECRET_KEY);
    expect(env.AWS_REGION).toBe(env.CANTALOUPE_S3SOURCE_REGION);
    for (const v of [env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_REGION]) expect(v).toMatch(/^\$\{[A-Z0-9_]+/);
  });

  it('gives web no build-time secrets and only the variables it needs', () => {
    const web = service('web');
    const build = web.build;
    expect(typeof build === 'string' ? build : build?.context).toBe('.');
    if (typeof build === 'object') expect(build.args ?? {}, 'no build args').toEqual({});
    for (const [name, s] of services) expect(s.env_file, `${name}: pass variables one by one, not the whole .env`).toBeUndefined();
    const names = Object.keys(envOf(web));
    for (const secret of ['TUNNEL_TOKEN', 'MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD', 'ELASTIC_PASSWORD']) {
      expect(names, `web must not receive ${secret}`).not.toContain(secret);
    }
  });

  it('passes every variable config.ts reads to web, bound for the internal network behind Access', () => {
    const env = envOf(service('web'));
    for (const name of configVariables()) expect(Object.keys(env), `web does not pass ${name}`).toContain(name);
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.ACCESS_MODE).toMatch(/cloudflare/);
    expect(env.ALLOW_PUBLIC_UNAUTHENTICATED).toBe('false');
    expect(env.DATA_DIR).toBe('/data');
    expect(service('web').volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('lets web scale (`--scale web=N`, docs/scaling.md): no fixed name or published port, shared state, reached by service name', () => {
    const web = service('web');
    // A fixed container or host name allows one container; a published host port, one per host.
    for (const [name, s] of services) expect(s.container_name, `${name} must not fix its container name`).toBeUndefined();
    expect(web.hostname).toBeUndefined();
    expect(web.ports).toBeUndefined();
    // Every replica mounts the same named volume (the embedded store, a shared CACHE_DIR) ...
    const data = web.volumes?.find((v) => v.endsWith(':/data'))?.split(':')[0];
    expect(Object.keys((compose as { volumes?: Record<string, unknown> }).volumes ?? {})).toContain(data);
    // ... and shares pyramids through the bucket or a directory (DERIVATIVE_STORE, from .env).
    for (const name of ['DERIVATIVE_STORE', 'DERIVATIVE_DIR', 'S3_DERIVATIVE_PREFIX']) expect(envOf(web)[name]).toMatch(new RegExp(`^\\$\\{${name}:-\\}$`));
    // cloudflared reaches the service name, which Docker's DNS answers with every replica.
    const ingress = (yaml.load(read('deploy/cloudflared/config.yml')) as { ingress: { service: string }[] }).ingress;
    const origins = new Set(ingress.map((r) => r.service).filter((o) => o.startsWith('http://web')));
    expect([...origins]).toEqual(['http://web:4321']);
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; name?: string; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2], lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  const final = stages.at(-1)!;
  const instructions = (stage: typeof final, op: string) => stage.lines.filter((l) => l.toUpperCase().startsWith(`${op} `));

  it('is multi-stage on a pinned official Node image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const names = new Set(stages.map((s) => s.name).filter(Boolean));
    for (const s of stages) {
      if (names.has(s.from)) continue;
      expect(s.from, 'the base image must be node:<major.minor.patch>-<variant>').toMatch(/^node:\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/);
      expect(s.from).not.toMatch(/latest/);
    }
    expect(final.from).toMatch(/^node:24\./);
  });

  it('builds with npm ci and the build stamp, and installs production dependencies only at run time', () => {
    // deploy/docker/install-locked.mjs is `npm ci` (+ a checked fallback for npm/cli#4828).
    const build = stages[0].lines.join('\n');
    expect(build).toMatch(/node \S*install-locked\.mjs\s*$/m);
    expect(build).toContain('node scripts/build-stamp.ts');
    expect(final.lines.join('\n')).toMatch(/node \S*install-locked\.mjs --omit=dev/);
    expect(read('deploy/docker/install-locked.mjs')).toContain("npm(['ci', ...argv])");
  });

  it('ships every input of the build stamp in the final stage, so start.ts never rebuilds', () => {
    const inputs = /const INPUTS = \[([^\]]*)\]/.exec(read('scripts/build-stamp.ts'))?.[1].match(/'([^']+)'/g)?.map((q) => q.slice(1, -1));
    expect(inputs?.length, 'INPUTS not found in scripts/build-stamp.ts').toBeGreaterThan(3);
    const copied = instructions(final, 'COPY').join('\n');
    for (const input of [...inputs!, 'dist']) expect(copied, `${input} is not copied into the final stage`).toMatch(new RegExp(`(^|[\\s/])${input.replace('.', '\\.')}(\\s|$)`, 'm'));
  });

  it('runs the final stage as a non-root user with a healthcheck and the start script', () => {
    const users = instructions(final, 'USER');
    expect(users.length, 'the final stage needs a USER').toBeGreaterThan(0);
    const user = users.at(-1)!.split(/\s+/)[1];
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    const health = instructions(final, 'HEALTHCHECK');
    expect(health.length).toBe(1);
    expect(health[0]).toContain('/healthz');
    expect(health[0]).not.toMatch(/\bcurl\b|\bwget\b/);
    expect(instructions(final, 'CMD').at(-1)).toBe('CMD ["node", "scripts/start.ts"]');
  });

  it('bakes no configuration or secret in at build time', () => {
    for (const s of stages) {
      expect(instructions(s, 'ARG'), 'no build arguments').toEqual([]);
      for (const env of instructions(s, 'ENV')) expect(env).not.toMatch(/PASSWORD|SECRET|TOKEN|_KEY|PUBLIC_BASE_URL|ACCESS_MODE/);
    }
  });

  it('has a .dockerignore that keeps local state and secrets out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', '.git', 'test-results', '.env']) expect(ignored).toContain(entry);
  });
});

describe('.env.example', () => {
  const example = envExample();

  it('lists every variable src/lib/config.ts reads', () => {
    const vars = configVariables();
    // Guard against the extraction silently finding nothing.
    expect(vars).toEqual(expect.arrayContaining(['HOST', 'PORT', 'PUBLIC_BASE_URL', 'DATA_DIR', 'ACCESS_MODE', 'ES_URL']));
    for (const name of vars) expect([...example.keys()], `.env.example lacks ${name}`).toContain(name);
  });

  it('lists every variable docker-compose.yml interpolates', () => {
    const vars = composeVariables();
    expect(vars).toEqual(expect.arrayContaining(['TUNNEL_TOKEN', 'ELASTIC_PASSWORD', 'MINIO_ROOT_PASSWORD', 'S3_BUCKET']));
    for (const name of vars) expect([...example.keys()], `.env.example lacks ${name}`).toContain(name);
  });

  it('states the defaults config.ts declares', () => {
    // A comment saying "default X" must say the schema's default; a default computed from another
    // variable (IIIF_MAX_HEIGHT, IIIF_MAX_RENDERS, ...) is described in words and not compared.
    const compared: string[] = [];
    for (const name of configVariables() as EnvName[]) {
      const declared = declaredDefault(name);
      const stated = /[(,;]\s*default\s+([^\s,;)]+?)\.?(?=[\s,;)]|$)/.exec(example.get(name)?.comment ?? '')?.[1];
      if (declared === undefined || stated === undefined) continue;
      expect(stated, `.env.example states the default of ${name} as ${stated}, config.ts declares ${declared}`).toBe(declared);
      compared.push(name);
    }
    // Guard against the comparison silently finding nothing.
    expect(compared).toEqual(expect.arrayContaining(['ES_TIMEOUT_MS', 'IIIF_MEMORY_CACHE_MB', 'IIIF_MAX_QUEUE', 'SYNC_CONCURRENCY', 'S3_FORCE_PATH_STYLE']));
  });

  it('explains every variable in a comment', () => {
    for (const [name, { comment }] of example) expect(comment.length, `${name} has no comment`).toBeGreaterThan(10);
  });

  it('holds placeholders only, never a real secret', () => {
    for (const [name, { value }] of example) {
      if (/PASSWORD|SECRET|TOKEN|ACCESS_KEY|_AUD$/.test(name)) expect(value, name).toMatch(/^$|CHANGE_ME/);
    }
    expect(example.get('ALLOW_PUBLIC_UNAUTHENTICATED')?.value).toBe('false');
    expect(example.get('ACCESS_MODE')?.value).toBe('cloudflare');
  });
});

describe('cloudflared ingress', () => {
  type Rule = { hostname?: string; path?: string; service: string };
  const rulesOf = (file: string) => {
    const config = yaml.load(read(file)) as { ingress: Rule[]; originRequest?: { access?: { required?: boolean; audTag?: string[] } } };
    return { config, rules: config.ingress };
  };
  const iiifPaths = ['/iiif', '/iiif/', '/iiif/3/a%2Fb.jpg/info.json', '/iiif/2/x/full/max/0/default.jpg'];
  const otherPaths = ['/', '/items/x', '/api/iiif/x/manifest.json', '/iiifx', '/view'];

  for (const [file, origin] of [
    ['deploy/cloudflared/config.yml', 'http://web:4321'],
    ['deploy/cloudflared/config.vps.yml', 'http://127.0.0.1:4321'],
  ] as const) {
    describe(file, () => {
      const { config, rules } = rulesOf(file);

      it('ends with a catch-all http_status:404 and has no other catch-all', () => {
        const last = rules.at(-1)!;
        expect(last).toEqual({ service: 'http_status:404' });
        // cloudflared refuses a config where a rule other than the last matches every host name.
        for (const r of rules.slice(0, -1)) expect(r.hostname ?? '', JSON.stringify(r)).not.toMatch(/^\*?$/);
      });

      it('routes /iiif to the image server before the rest of the host goes to the app', () => {
        const first = (p: string) => rules.findIndex((r) => !r.path || new RegExp(r.path).test(p));
        const iiif = rules.findIndex((r) => r.path && iiifPaths.every((p) => new RegExp(r.path!).test(p)));
        expect(iiif, 'no /iiif rule').toBeGreaterThanOrEqual(0);
        for (const p of iiifPaths) expect(first(p), p).toBe(iiif);
        for (const p of otherPaths) expect(rules[first(p)].service, p).toBe(origin);
        for (const p of otherPaths) expect(first(p), p).not.toBe(iiif);
        expect(rules[iiif].service).toBe(origin);
        const app = rules.findIndex((r) => !r.path && r.hostname === rules[iiif].hostname);
        expect(app).toBeGreaterThan(iiif);
        expect(rules[app].service).toBe(origin);
      });

      it('requires a Cloudflare Access token at the origin', () => {
        expect(config.originRequest?.access?.required).toBe(true);
        expect(config.originRequest?.access?.audTag?.length).toBeGreaterThan(0);
      });
    });
  }

  it('shows how to send /iiif to Cantaloupe', () => {
    expect(read('deploy/cloudflared/config.yml')).toContain('http://cantaloupe:8182');
  });
});

// Compose itself: schema validation and interpolation with .env.example.
const compose129 = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
const hasCompose = !compose129.error && compose129.status === 0;
if (!hasCompose) {
  console.log(
    "skipped: docker-compose is not on PATH, so Compose's own validation of docker-compose.yml did not run " +
      '(deploy/check-compose.sh installs Debian\'s docker-compose and runs it; CI does).',
  );
}

function dockerCompose(args: string[]) {
  // A clean environment: only the env file may feed the interpolation.
  return spawnSync('docker-compose', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
  });
}

describe.runIf(hasCompose)('docker-compose config (Compose 1.29)', () => {
  it('accepts the file with .env.example, with and without the cantaloupe profile', () => {
    for (const extra of [[], ['--profile', 'cantaloupe']]) {
      const r = dockerCompose(['--env-file', '.env.example', ...extra, 'config', '-q']);
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('publishes no port and pins every image after interpolation', () => {
    const r = dockerCompose(['--env-file', '.env.example', '--profile', 'cantaloupe', 'config']);
    expect(r.status, r.stderr).toBe(0);
    const resolved = yaml.load(r.stdout) as Compose;
    for (const [name, s] of Object.entries(resolved.services)) {
      expect(s.ports, name).toBeUndefined();
      if (s.image) expect(imageTag(s.image).tag, name).not.toMatch(/^(latest)?$/);
    }
  });

  it('resolves web without a container name or published port, so `--scale web=N` can start replicas', () => {
    const r = dockerCompose(['--env-file', '.env.example', 'config']);
    expect(r.status, r.stderr).toBe(0);
    const web = (yaml.load(r.stdout) as Compose).services.web!;
    expect(web.container_name).toBeUndefined();
    expect(web.ports).toBeUndefined();
    expect(envOf(web).DERIVATIVE_STORE).toBe('');
  });

  it('refuses to render without the secrets', () => {
    const empty = path.join(mkdtempSync(path.join(os.tmpdir(), 'compose-env-')), 'empty.env');
    writeFileSync(empty, '');
    const r = dockerCompose(['--env-file', empty, 'config', '-q']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set [A-Z_]+ in \.env/);
  });
});
