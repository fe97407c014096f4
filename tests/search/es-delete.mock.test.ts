/**
 * deleteRecords on the Elasticsearch store (withdrawals, issue 12 item 5): one bulk request of
 * delete actions; documents already gone (404) are what was asked for; other failures throw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BulkWriteError } from '../../src/lib/search/elasticsearch.ts';
import { Harness } from './es-harness.ts';

let h: Harness;
afterEach(() => {
  // Every test states all the requests it expects: none more, none fewer.
  expect(h.unexpected, 'requests nobody expected').toEqual([]);
});

const item = (id: string, status: number, result?: string) => ({
  delete: { _index: 'archive-v1', _id: id, _version: 2, ...(result ? { result } : {}), status, ...(status >= 300 && status !== 404 ? { error: { type: 'x', reason: 'y' } } : {}) },
});

describe('elasticsearch deleteRecords', () => {
  it('sends one bulk request of deletes and counts the deleted documents; a missing one is not an error', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_bulk', { errors: true, took: 3, items: [item('R01-0002', 200, 'deleted'), item('R01-0009', 404, 'not_found')] });
    expect(await store.deleteRecords(['R01-0002', 'R01-0009', 'R01-0002'])).toBe(1);
    const bulk = h.to('POST', '/archive/_bulk')[0]!;
    expect(bulk.body).toEqual([{ delete: { _id: 'R01-0002' } }, { delete: { _id: 'R01-0009' } }]);
  });

  it('throws a BulkWriteError naming a document it could not delete', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_bulk', { errors: true, took: 3, items: [item('R01-0002', 400)] });
    await expect(store.deleteRecords(['R01-0002'])).rejects.toBeInstanceOf(BulkWriteError);
  });
});
