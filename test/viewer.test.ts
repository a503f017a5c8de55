// Who a viewer is (viewer.ts) and what a request asks for (byte-range.ts): pure functions
// the edge decides with, before any I/O.
import type { CloudFrontHeaders } from 'aws-lambda';
import fc from 'fast-check';
import { bytesPerUse, requestedBytes } from '../src/handlers/byte-range';
import { clientAddress, isSameOriginPost, sessionCookie, sessionSecretOf } from '../src/handlers/viewer';

const headers = (pairs: Record<string, string>): CloudFrontHeaders =>
  Object.fromEntries(Object.entries(pairs).map(([k, v]) => [k, [{ key: k, value: v }]]));

describe('the address a direct link is bound to', () => {
  it('keeps an IPv4 address, and reads an IPv4-mapped IPv6 address as IPv4', () => {
    expect(clientAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('compares IPv6 addresses by /64, whatever their spelling', () => {
    const a = clientAddress('2001:db8:85a3:12::8a2e:370:7334');
    expect(a).toBe('2001:db8:85a3:12::/64');
    expect(clientAddress('2001:0DB8:85A3:0012:aaaa:bbbb:cccc:dddd')).toBe(a);
    expect(clientAddress('2001:db8:85a3:12::1')).toBe(a);
    expect(clientAddress('2001:db8:85a3:13::1')).not.toBe(a);
    expect(clientAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
  });

  it('maps every spelling of one /64 to one key (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (h) => {
      const full = h.map((x) => x.toString(16).padStart(4, '0')).join(':');
      const short = h.map((x) => x.toString(16)).join(':');
      expect(clientAddress(full)).toBe(clientAddress(short));
      expect(clientAddress(full)).toBe(`${h.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`);
    }));
  });
});

describe('the session cookie of a landing-page download', () => {
  const ID = 'AbCdEfGhIjKlMnOpQrStUv';
  const SECRET = 'Zz0123456789_-abcdefgh';

  it('is Secure, HttpOnly, SameSite=Lax, named for the link and scoped to its path', () => {
    expect(sessionCookie(ID, SECRET, '/reports/q4.pdf', 1800))
      .toBe(`otp-${ID}=${SECRET}; Path=/reports/q4.pdf; Max-Age=1800; Secure; HttpOnly; SameSite=Lax`);
    // A path browsers would ignore (over 1024 bytes) is left out.
    expect(sessionCookie(ID, SECRET, `/${'a'.repeat(1100)}`, 60)).toBe(`otp-${ID}=${SECRET}; Max-Age=60; Secure; HttpOnly; SameSite=Lax`);
  });

  it('is read back from a Cookie header among others, and only when well-formed', () => {
    expect(sessionSecretOf(headers({ cookie: `a=b; otp-${ID}=${SECRET}; c=d` }), ID)).toBe(SECRET);
    expect(sessionSecretOf(headers({ cookie: `otp-${ID}=short` }), ID)).toBeUndefined();
    expect(sessionSecretOf(headers({ cookie: `otp-OTHERlinkIdOTHERlink=${SECRET}` }), ID)).toBeUndefined();
    expect(sessionSecretOf(headers({}), ID)).toBeUndefined();
  });
});

describe('a button press', () => {
  it('is accepted from the page itself, from a user, or from a client that is not a browser', () => {
    expect(isSameOriginPost(headers({ 'sec-fetch-site': 'same-origin' }))).toBe(true);
    expect(isSameOriginPost(headers({ 'sec-fetch-site': 'none' }))).toBe(true);
    expect(isSameOriginPost(headers({ origin: 'https://d111.cloudfront.net', host: 'd111.cloudfront.net' }))).toBe(true);
    expect(isSameOriginPost(headers({}))).toBe(true);
  });

  it('is refused from another site, and from an opaque origin', () => {
    expect(isSameOriginPost(headers({ 'sec-fetch-site': 'cross-site', 'origin': 'https://d111.cloudfront.net', 'host': 'd111.cloudfront.net' }))).toBe(false);
    expect(isSameOriginPost(headers({ 'sec-fetch-site': 'same-site' }))).toBe(false);
    expect(isSameOriginPost(headers({ origin: 'https://evil.example', host: 'd111.cloudfront.net' }))).toBe(false);
    expect(isSameOriginPost(headers({ origin: 'null', host: 'd111.cloudfront.net' }))).toBe(false);
  });
});

describe('the bytes a request is charged', () => {
  it('reads single ranges as S3 serves them', () => {
    expect(requestedBytes(undefined, 1000)).toBe(1000);
    expect(requestedBytes('bytes=0-1', 1000)).toBe(2);
    expect(requestedBytes('bytes=100-', 1000)).toBe(900);
    expect(requestedBytes('bytes=-10', 1000)).toBe(10);
    expect(requestedBytes('bytes=-5000', 1000)).toBe(1000);
    expect(requestedBytes('bytes=900-5000', 1000)).toBe(100);
    expect(requestedBytes('bytes=1000-', 1000)).toBe(0); // 416
  });

  it('charges the whole object for what S3 ignores (several ranges, bad syntax)', () => {
    expect(requestedBytes('bytes=0-1,5-9', 1000)).toBe(1000);
    expect(requestedBytes('bytes=5-1', 1000)).toBe(1000);
    expect(requestedBytes('items=0-1', 1000)).toBe(1000);
    expect(requestedBytes('bytes=-', 1000)).toBe(1000);
  });

  it('never charges more than the object, whatever the header (property)', () => {
    fc.assert(fc.property(fc.string(), fc.nat(10_000_000), (range, size) => {
      const n = requestedBytes(`bytes=${range}`, size);
      expect(n >= 0 && n <= size).toBe(true);
    }));
  });

  it('allows a use three times the object plus 1 MiB', () => {
    expect(bytesPerUse(0)).toBe(1_048_576);
    expect(bytesPerUse(10_000)).toBe(30_000 + 1_048_576);
  });
});
