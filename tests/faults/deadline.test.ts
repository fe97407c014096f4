/**
 * Every HTTP response has a deadline (src/lib/deadline.ts): a handler that never answers (a
 * dependency hung below every other timeout) still gives the client a 504 with Retry-After; what
 * the handler writes afterwards is dropped without an error; the requests in flight are known.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { ResponseDeadlines } from '../../src/lib/deadline.ts';

const logged: string[] = [];
const deadlines = new ResponseDeadlines({ ms: 300, log: (l) => logged.push(l) });
let lateWriteError: unknown;
const late: Array<() => void> = [];
const server = http.createServer(
  deadlines.wrap((req, res) => {
    if (req.url === '/fast') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    // Hung: answers only when the test says so (after the deadline has answered for it).
    late.push(() => {
      try {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('too late');
      } catch (e) {
        lateWriteError = e;
      }
    });
  }),
);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test('a hung handler: the client gets 504 + Retry-After, one log line, late writes are dropped', async () => {
  expect((await fetch(`${base}/fast`)).status).toBe(200);
  const pending = fetch(`${base}/iiif/3/x/info.json`);
  // While it hangs, it is listed as in flight (what shutdown logs when it has to cut requests).
  while (deadlines.inFlight().length === 0) await new Promise((r) => setImmediate(r));
  expect(deadlines.inFlight()).toMatchObject([{ method: 'GET', url: '/iiif/3/x/info.json' }]);
  const res = await pending;
  expect(res.status).toBe(504);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(await res.json()).toMatchObject({ status: 504 });
  const page = await fetch(`${base}/items/x`);
  expect(page.status).toBe(504);
  expect(await page.text()).toMatch(/took too long/);
  for (const answer of late) answer();
  expect(lateWriteError).toBeUndefined();
  expect(logged.filter((l) => JSON.parse(l).event === 'response_deadline')).toHaveLength(2);
  expect(deadlines.inFlight()).toEqual([]);
});
