/**
 * Elasticsearch requests and responses are checked against the client's own types (estypes, generated
 * from the Elasticsearch specification): the adapters may not cast them away. The compiler then
 * compares every body with the specification (`npm run typecheck`, part of `npm test`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The modules that talk to Elasticsearch: the search adapter and its pieces, the access adapter. */
function esModules(): string[] {
  const search = path.join(ROOT, 'src/lib/search');
  const pieces = fs
    .readdirSync(search)
    .filter((f) => f === 'elasticsearch.ts' || /^es-.*\.ts$/.test(f))
    .map((f) => path.join(search, f));
  return [...pieces, path.join(ROOT, 'src/lib/access/access-elasticsearch.ts')].sort();
}

/** Casts that switch the compiler's check off: `as never`, `as unknown as …`, `as any`, `<any>`. */
const CAST = /\bas\s+never\b|\bas\s+unknown\s+as\b|\bas\s+any\b|<any>/;

function castsIn(text: string): number[] {
  return text.split('\n').flatMap((line, i) => (CAST.test(line.replace(/\/\/.*$/, '')) ? [i + 1] : []));
}

describe('typed Elasticsearch requests', () => {
  it('finds the adapter modules (the list below is not empty by accident)', () => {
    const names = esModules().map((f) => path.relative(ROOT, f));
    expect(names).toEqual(expect.arrayContaining(['src/lib/search/elasticsearch.ts', 'src/lib/search/es-query.ts', 'src/lib/access/access-elasticsearch.ts']));
  });

  it('the cast pattern catches every form it forbids, and nothing else', () => {
    expect(castsIn('const r = (await c.search({} as never)) as unknown as X;\nok();\nfoo(x as any);\nbar(<any>y);')).toEqual([1, 3, 4]);
    expect(castsIn('const v: estypes.SearchRequest = { index };\n// as never is named in a comment only')).toEqual([]);
  });

  it('no request or response is cast in the Elasticsearch adapters', () => {
    const found = esModules().flatMap((file) => castsIn(fs.readFileSync(file, 'utf8')).map((line) => `${path.relative(ROOT, file)}:${line}`));
    expect(found, 'casts around Elasticsearch requests or responses (type the body with estypes instead)').toEqual([]);
  });

  it('the adapters import the client types (estypes)', () => {
    for (const file of ['src/lib/search/elasticsearch.ts', 'src/lib/search/es-query.ts', 'src/lib/search/es-settings.ts', 'src/lib/access/access-elasticsearch.ts']) {
      expect(fs.readFileSync(path.join(ROOT, file), 'utf8'), file).toMatch(/import[^;]*\bestypes\b[^;]*from '@elastic\/elasticsearch'/);
    }
  });
});
