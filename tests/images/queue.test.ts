/**
 * The bounded processing queue: at most N renders at once, within a memory budget, a bounded FIFO
 * wait, and 503 with Retry-After beyond it — also end to end over HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IiifError } from '../../src/lib/images/errors.ts';
import { RenderQueue } from '../../src/lib/images/queue.ts';
import type { ImagePlan } from '../../src/lib/images/request.ts';
import type { SourceFacts } from '../../src/lib/images/server.ts';
import { rawRequest, startImageHttp, type ImageHttp } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RenderQueue', () => {
  test('never more than `concurrency` jobs at once; all complete, in order', async () => {
    const q = new RenderQueue({ concurrency: 2, maxWaiting: 100, memoryBudget: 1e9 });
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        q.run(1, async () => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          await sleep(5);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(started).toEqual([...Array(12).keys()]);
    expect(q.stats()).toMatchObject({ running: 0, waiting: 0, memoryInUse: 0, completed: 12 });
  });

  test('a job asked to go first starts before the waiting ones (a pyramid build that waiting tiles need)', async () => {
    const q = new RenderQueue({ concurrency: 1, maxWaiting: 3, memoryBudget: 1e9 });
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const jobs = [q.run(1, async () => { started.push('running'); await gate; })];
    for (const name of ['a', 'b', 'c']) jobs.push(q.run(1, async () => void started.push(name)));
    // The queue is full (3 waiting), yet the build is admitted, at the head.
    jobs.push(q.run(1, async () => void started.push('build'), { first: true }));
    await expect.poll(() => q.stats().waiting).toBe(4);
    release();
    await Promise.all(jobs);
    expect(started).toEqual(['running', 'build', 'a', 'b', 'c']);
  });

  test('the memory budget limits the sum of estimates; a job over the budget runs alone', async () => {
    const q = new RenderQueue({ concurrency: 8, maxWaiting: 100, memoryBudget: 100 });
    let inUse = 0;
    let peakUse = 0;
    let running = 0;
    let bigRanAlone = false;
    const job = (cost: number) =>
      q.run(cost, async () => {
        running++;
        inUse += Math.min(cost, 100);
        peakUse = Math.max(peakUse, inUse);
        if (cost > 100) bigRanAlone = running === 1;
        await sleep(5);
        inUse -= Math.min(cost, 100);
        running--;
      });
    await Promise.all([job(40), job(40), job(40), job(500), job(40), job(10)]);
    expect(peakUse).toBeLessThanOrEqual(100);
    expect(bigRanAlone).toBe(true);
  });

  test('beyond maxWaiting: 503 with Retry-After at once', async () => {
    const q = new RenderQueue({ concurrency: 1, maxWaiting: 2, memoryBudget: 1e9 });
    const slow = () => q.run(1, () => sleep(50));
    const accepted = [slow(), slow(), slow()]; // one running, two waiting
    const err = await slow().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IiifError);
    expect((err as IiifError).status).toBe(503);
    expect(Number((err as IiifError).headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    await Promise.all(accepted);
    expect(q.stats().rejected).toBe(1);
    await slow(); // room again
  });

  test('a wait longer than maxWaitMs gives up with 503', async () => {
    const q = new RenderQueue({ concurrency: 1, maxWaiting: 10, memoryBudget: 1e9, maxWaitMs: 30 });
    const long = q.run(1, () => sleep(200));
    const err = await q.run(1, async () => 'never').catch((e: unknown) => e);
    expect((err as IiifError).status).toBe(503);
    await long;
    expect(q.stats().waiting).toBe(0);
  });

  test('a failing job frees its slot', async () => {
    const q = new RenderQueue({ concurrency: 1, maxWaiting: 1, memoryBudget: 1e9 });
    await expect(q.run(1, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(1, async () => 'ok')).toBe('ok');
    expect(q.stats()).toMatchObject({ running: 0, memoryInUse: 0 });
  });
});

describe('overload over HTTP', () => {
  let tmp: string;
  let h: ImageHttp;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-queue-test-'));
    await sharp({ create: { width: 800, height: 600, channels: 3, background: '#468' } }).png().toFile(path.join(tmp, 'a.png'));
    h = await startImageHttp({
      root: tmp,
      lookup: async (id) => (id === 'a' ? { file: 'a.png' } : null),
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 1e8,
      queue: new RenderQueue({ concurrency: 1, maxWaiting: 3, memoryBudget: 1e9 }),
      memoryCacheBytes: 0,
      log: () => {},
    });
    const render = h.server.render.bind(h.server);
    h.server.render = async (file: string, facts: SourceFacts, plan: ImagePlan) => {
      await sleep(60);
      return render(file, facts, plan);
    };
  });

  afterAll(async () => {
    await h?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('more requests than renders + queue: the rest get 503 with Retry-After, none 500', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => rawRequest(h.baseUrl, `/iiif/3/a/full/${100 + i},/0/default.jpg`)));
    const statuses = rs.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    for (const r of rs.filter((x) => x.status === 503)) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.body.toString()).toMatch(/busy/);
    }
    // Once the burst is over, everything is served again.
    expect((await rawRequest(h.baseUrl, '/iiif/3/a/full/99,/0/default.jpg')).status).toBe(200);
    // Cheap answers do not queue: info.json and 304s are served while renders are busy.
    const busy = Promise.all(Array.from({ length: 4 }, (_, i) => rawRequest(h.baseUrl, `/iiif/3/a/full/${200 + i},/0/default.jpg`)));
    expect((await rawRequest(h.baseUrl, '/iiif/3/a/info.json')).status).toBe(200);
    await busy;
  });
});
