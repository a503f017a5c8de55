// Which link events a ledger change means: built from the same writes the handlers make.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { eventsForChange } from '../src/handlers/ledger-changes';
import { openSessionInput } from '../src/handlers/session-table';
import { parsePresentedLink } from '../src/shared/link';

type Image = Record<string, AttributeValue>;

const issued: Image = {
  id: { S: 'AAAAAAAAAAAAAAAAAAAAAA' },
  objectKey: { S: 'reports/q4.pdf' },
  fingerprint: { S: 'f' },
  maxUses: { N: '2' },
  cap: { N: '2' },
  expiresAt: { N: '2000000000' },
  ttl: { N: '2000604800' },
  revoked: { BOOL: false },
  createdAt: { S: '2026-11-29T10:00:00.000Z' },
  sessions: { M: {} },
  sessionUntil: { M: {} },
  sessionRequests: { M: {} },
  owner: { S: 'jwt:https://issuer#alice' },
};

function withSession(image: Image, client: string, requestId: string, requests = 1): Image {
  const record = { M: { at: { S: `2026-11-29T10:0${requestId.length % 10}:00.000Z` }, ip: { S: '198.51.100.7' }, userAgent: { S: 'curl/8.5.0' }, requestId: { S: requestId } } };
  return {
    ...image,
    sessions: { M: { ...image.sessions.M, [client]: record } },
    sessionUntil: { M: { ...image.sessionUntil.M, [client]: { N: '1999999999' } } },
    sessionRequests: { M: { ...image.sessionRequests.M, [client]: { N: String(requests) } } },
  };
}

describe('link events from ledger changes', () => {
  it('announces an N-use link\'s use from its new session item, and its last use from its own item', () => {
    // The link's item after a take counts uses only; the session's item is what the edge puts.
    const link = parsePresentedLink('/reports/q4.pdf', 'x-link-id=AAAAAAAAAAAAAAAAAAAAAA&x-link-exp=2000000000&x-link-uses=2&x-link-window=60&x-link-size=10', 1_999_000_000);
    if (!link.ok) throw new Error(link.reason);
    const counted: Image = { ...issued, uses: { N: '1' }, lastTake: { M: { r: { S: 'r1' }, at: { N: '1900000000' } } } };
    delete counted.sessions;
    delete counted.cap;
    const who = { at: '2026-11-29T10:00:00.000Z', ip: '198.51.100.7', userAgent: 'curl/8.5.0', requestId: 'r1', bytes: 10 };
    const session = openSessionInput('sessions', link.value, 'c1c1c1c1c1c1c1c1c1c1c1.001', who, counted, 1_999_000_000, who).Item!;
    const redeemed = eventsForChange(undefined, session, '500');
    expect(redeemed.map((e) => e.detailType)).toEqual(['Link Redeemed']);
    expect(redeemed[0].detail).toEqual({
      version: expect.any(String),
      eventId: '500#0',
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      key: 'reports/q4.pdf',
      uses: 1,
      maxUses: 2,
      expiresAt: '2033-05-18T03:33:20.000Z',
      revoked: false,
      owner: 'jwt:https://issuer#alice',
      at: who.at,
      ip: who.ip,
      userAgent: who.userAgent,
      requestId: 'r1',
    });
    // A continuation, a revocation mark, a give-back: no event.
    expect(eventsForChange(session, { ...session, requests: { N: '2' } }, '501')).toEqual([]);
    expect(eventsForChange(session, undefined, '502')).toEqual([]);
    // The link's own item: its takes mean nothing (a take the same client's race gives back included).
    expect(eventsForChange({ ...counted, uses: { N: '0' } }, counted, '503')).toEqual([]);
    expect(eventsForChange(counted, { ...counted, uses: { N: '2' } }, '504')).toEqual([]);
    // The session of its last use: Link Redeemed, then Link Used Up.
    const lastOne = { ...counted, uses: { N: '2' } };
    const last = openSessionInput('sessions', link.value, 'c2c2c2c2c2c2c2c2c2c2c2.001', { ...who, requestId: 'r2' }, lastOne, 1_999_000_000, who).Item!;
    expect(eventsForChange(undefined, last, '505').map((e) => [e.detailType, e.detail.uses, e.detail.eventId])).toEqual([
      ['Link Redeemed', 2, '505#0'], ['Link Used Up', 2, '505#1'],
    ]);
  });

  it('announces an upload link\'s file once, as Upload Received with its size and type; taking and giving back mean nothing', () => {
    const open: Image = { ...issued, kind: { S: 'upload' }, uploadState: { S: 'open' }, objectSize: { N: '5000' }, maxUses: { N: '1' }, cap: { N: '1' } };
    const who = { M: { at: { S: '2026-11-29T10:00:00.000Z' }, ip: { S: '198.51.100.7' }, userAgent: { S: 'curl/8.5.0' }, requestId: { S: 'r1' }, bytes: { N: '42' }, contentType: { S: 'text/csv' } } };
    const taking: Image = { ...open, uploadState: { S: 'uploading' }, uploadUntil: { N: '1999999999' }, uploader: who };
    const stored: Image = { ...taking, uploadState: { S: 'uploaded' }, uploadedSize: { N: '42' }, uploadedAt: { S: '2026-11-29T10:00:01.000Z' } };
    expect(eventsForChange(undefined, open, '400').map((e) => e.detailType)).toEqual(['Link Issued']);
    expect(eventsForChange(open, taking, '401')).toEqual([]);
    expect(eventsForChange(taking, open, '402')).toEqual([]);
    const received = eventsForChange(taking, stored, '403');
    expect(received.map((e) => e.detailType)).toEqual(['Upload Received']);
    expect(received[0].detail).toMatchObject({ id: 'AAAAAAAAAAAAAAAAAAAAAA', kind: 'upload', size: 42, contentType: 'text/csv', uses: 1, maxUses: 1 });
    expect(JSON.stringify(received[0].detail)).not.toMatch(/198\.51|curl/);
    expect(eventsForChange(stored, { ...stored, ttl: { N: '1' } }, '404')).toEqual([]);
    expect(eventsForChange(open, { ...open, revoked: { BOOL: true } }, '405').map((e) => [e.detailType, e.detail.kind])).toEqual([['Link Revoked', 'upload']]);
  });

  it('announces the wrong passphrase that took the last try as Link Locked, once, without the hash', () => {
    const guarded: Image = { ...issued, passphraseHash: { S: 'derived-key-of-the-passphrase' }, passphraseTriesLeft: { N: '2' } };
    const one = { ...guarded, passphraseTriesLeft: { N: '1' } };
    const none = { ...guarded, passphraseTriesLeft: { N: '0' } };
    expect(eventsForChange(guarded, one, '300')).toEqual([]);
    const locked = eventsForChange(one, none, '301');
    expect(locked.map((e) => [e.detailType, e.detail.id, e.detail.eventId])).toEqual([['Link Locked', 'AAAAAAAAAAAAAAAAAAAAAA', '301#0']]);
    expect(JSON.stringify(locked)).not.toContain('derived-key');
    expect(eventsForChange(none, { ...none, revoked: { BOOL: true } }, '302').map((e) => e.detailType)).toEqual(['Link Revoked']);
    expect(JSON.stringify(eventsForChange(undefined, guarded, '299'))).not.toContain('derived-key');
  });

  it('announces a new item as Link Issued, with a versioned detail and a stable event id', () => {
    const events = eventsForChange(undefined, issued, '100');
    expect(events).toEqual([{
      detailType: 'Link Issued',
      detail: {
        version: '1',
        eventId: '100#0',
        id: 'AAAAAAAAAAAAAAAAAAAAAA',
        key: 'reports/q4.pdf',
        uses: 0,
        maxUses: 2,
        expiresAt: '2033-05-18T03:33:20.000Z',
        revoked: false,
        owner: 'jwt:https://issuer#alice',
      },
    }]);
  });

  it('announces each use as Link Redeemed with who redeemed it, and the last one also as Link Used Up', () => {
    const one = withSession(issued, 'c1', 'req-1');
    expect(eventsForChange(issued, one, '101')).toEqual([{
      detailType: 'Link Redeemed',
      detail: expect.objectContaining({ eventId: '101#0', uses: 1, ip: '198.51.100.7', userAgent: 'curl/8.5.0', requestId: 'req-1', at: expect.any(String) }),
    }]);
    const two = withSession(one, 'c2', 'req-22');
    expect(eventsForChange(one, two, '102').map((e) => [e.detailType, e.detail.eventId, e.detail.uses])).toEqual([
      ['Link Redeemed', '102#0', 2], ['Link Used Up', '102#1', 2],
    ]);
  });

  it('says nothing for a download session continuing (only counters change)', () => {
    const open = withSession(issued, 'c1', 'req-1');
    expect(eventsForChange(open, withSession(issued, 'c1', 'req-1', 7), '103')).toEqual([]);
  });

  it('announces a reopened session (the same client\'s next use) as one Link Redeemed', () => {
    const first = withSession(issued, 'c1', 'req-1');
    const reopened: Image = {
      ...withSession(issued, 'c1', 'req-333'),
      cap: { N: '1' },
      redemptions: { L: [{ M: { ...first.sessions.M!.c1.M!, sessionUntil: { N: '1999999999' }, requests: { N: '3' } } }] },
    };
    expect(eventsForChange(first, reopened, '104').map((e) => [e.detailType, e.detail.requestId, e.detail.uses])).toEqual([
      ['Link Redeemed', 'req-333', 2], ['Link Used Up', undefined, 2],
    ]);
  });

  it('announces a revocation once, and nothing for its repetition or for TTL removing the item', () => {
    const revoked: Image = { ...issued, revoked: { BOOL: true }, revokedAt: { S: '2026-11-29T11:00:00.000Z' } };
    expect(eventsForChange(issued, revoked, '105').map((e) => e.detailType)).toEqual(['Link Revoked']);
    expect(eventsForChange(revoked, revoked, '106')).toEqual([]);
    expect(eventsForChange(revoked, undefined, '107')).toEqual([]);
  });
});
