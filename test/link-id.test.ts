// The mint's link ids: 22 base64url characters, never beginning with `-` (which a command
// line would read as an option), whatever the random bytes are.
import { newLinkId } from '../src/handlers/link-id';
import { isLinkId } from '../src/shared/link';

/** A random source that hands out the given 16-byte buffers in order, and counts the draws. */
function scripted(...buffers: Buffer[]) {
  const sizes: number[] = [];
  const random = (size: number): Buffer => {
    sizes.push(size);
    const next = buffers.shift();
    if (!next) throw new Error('scripted random source exhausted');
    return next;
  };
  return { random, sizes };
}

/** 16 bytes whose first byte is `first` (the rest arbitrary but fixed). */
const bytesStartingWith = (first: number): Buffer => Buffer.from([first, ...Array.from({ length: 15 }, (_, i) => (i * 37 + 11) % 256)]);

describe('newLinkId', () => {
  it('redraws exactly the first bytes 0xF8-0xFB (1/64 of all draws), the ones base64url starts with `-`', () => {
    const redrawn: number[] = [];
    for (let first = 0; first < 256; first++) {
      const { random, sizes } = scripted(bytesStartingWith(first), bytesStartingWith(0x00));
      const id = newLinkId(random);
      expect([first, isLinkId(id), id.startsWith('-')]).toEqual([first, true, false]);
      if (sizes.length === 2) redrawn.push(first);
      else expect(id).toBe(bytesStartingWith(first).toString('base64url'));
      expect(sizes.every((size) => size === 16)).toBe(true);
    }
    expect(redrawn).toEqual([0xF8, 0xF9, 0xFA, 0xFB]);
  });

  it('keeps drawing until the id does not begin with `-`, and keeps ids that begin with `_`', () => {
    const minus = bytesStartingWith(0xF8);
    const underscore = bytesStartingWith(0xFC);
    expect(minus.toString('base64url')[0]).toBe('-');
    expect(underscore.toString('base64url')[0]).toBe('_');
    const { random, sizes } = scripted(minus, bytesStartingWith(0xFB), minus, underscore);
    expect(newLinkId(random)).toBe(underscore.toString('base64url'));
    expect(sizes).toEqual([16, 16, 16, 16]);
  });

  it('with the real random source: 22 base64url characters, none beginning with `-`, all distinct', () => {
    const ids = Array.from({ length: 20_000 }, () => newLinkId());
    expect(ids.filter((id) => !isLinkId(id) || id.length !== 22)).toEqual([]);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
