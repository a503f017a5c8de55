// The local deployment hands its origin options to the local S3 and CloudFront: origin
// faults (at start and later), the origin response timeout and connection attempts, and the
// viewer address hook. The behaviours themselves are pinned, with their sources, in
// test/local-s3-fidelity.test.ts and test/local-cloudfront-fidelity.test.ts.
import type { IncomingMessage } from 'node:http';
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

let d: LocalDeployment;
const viewers: string[] = [];

async function mint(key: string): Promise<string> {
  const res = await callApi(`${d.apiUrl}/get-url?key=${key}`, d.region, d);
  expect(res.status).toBe(200);
  return res.json<{ url: string }>().url;
}

beforeAll(async () => {
  d = await startLocalDeployment({
    objects: { 'reset.txt': 'bytes', 'slow.txt': 'bytes', 'fine.txt': 'fine bytes' },
    originFaults: { 'reset.txt': 'reset' },
    originResponseTimeoutMs: 300,
    originConnectionAttempts: 1,
    viewerAddress: (req: IncomingMessage) => {
      viewers.push(req.url ?? '');
      return '198.51.100.7';
    },
  });
});
afterAll(async () => d?.close());
beforeEach(() => {
  d.services.s3.calls.reset();
  viewers.length = 0;
});

test('originFaults: the first GET of the key is reset, and CloudFront answers its own 502', async () => {
  const res = await http(await mint('reset.txt'));
  expect([res.status, res.headers['x-cache']]).toEqual([502, 'Error from cloudfront']);
  expect(d.services.s3.calls.get('GetObject')).toBe(1);
});

test('injectOriginFault, originResponseTimeoutMs and originConnectionAttempts: an unanswered GET is a 504 after 300 ms', async () => {
  d.injectOriginFault('slow.txt', 'timeout');
  const started = Date.now();
  const res = await http(await mint('slow.txt'));
  expect([res.status, res.headers['x-cache']]).toEqual([504, 'Error from cloudfront']);
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  expect(d.services.s3.calls.get('GetObject')).toBe(1);
});

test('viewerAddress sees every viewer request; a key without a fault is served', async () => {
  const url = await mint('fine.txt');
  const res = await http(url);
  expect([res.status, res.text()]).toEqual([200, 'fine bytes']);
  expect(viewers).toEqual([url.slice(d.distributionUrl.length)]);
});
