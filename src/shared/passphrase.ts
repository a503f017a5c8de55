// Passphrases of protected links, shared by the mint (which hashes the passphrase a caller
// gives or generates one) and the edge (which hashes what a recipient typed): one KDF, one
// salt rule, one normalization, so both sides derive the same key. The ledger keeps only the
// derived key; the passphrase itself is never stored, logged or sent anywhere but back to the
// caller who asked the mint to generate it.
//
// Runtime-neutral: only node:crypto, so both handler bundles stay small.
import { randomBytes, scrypt } from 'crypto';

/** Fewest characters (Unicode code points, after NFC) a passphrase may have. */
export const MIN_PASSPHRASE_LENGTH = 8;
/** Most characters (Unicode code points, after NFC) a passphrase may have. */
export const MAX_PASSPHRASE_LENGTH = 128;

/**
 * scrypt (RFC 7914), memory-hard: 128 * N * r = 16 MiB per hash, about 50 ms on one modern
 * core. It fits the viewer-request function's 128 MB beside the SDK, and makes guessing
 * offline (from a leaked ledger) slow; online guessing is bounded by the wrong-try limit.
 * `npm run bench` measures it. Changing these invalidates every issued passphrase link.
 */
export const PASSPHRASE_KDF = { N: 2 ** 14, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 } as const;

/**
 * The salt: unique per link, and known to the edge without any I/O, so the edge can hash
 * before its single conditional write. The link id is 128 random bits minted afresh for
 * every link (link-id.ts), so no two links share a salt and no table of precomputed hashes
 * serves more than one link.
 */
export function passphraseSalt(linkId: string): string {
  return `otp-passphrase\n${linkId}`;
}

/** What both sides hash: NFC, so a passphrase typed on another keyboard or OS matches. */
export function normalizePassphrase(passphrase: string): string {
  return passphrase.normalize('NFC');
}

/** Why a passphrase cannot be one, or undefined when it can. */
export function passphraseProblem(passphrase: string): string | undefined {
  const length = [...normalizePassphrase(passphrase)].length;
  if (length < MIN_PASSPHRASE_LENGTH || length > MAX_PASSPHRASE_LENGTH) {
    return `passphrase must be between ${MIN_PASSPHRASE_LENGTH} and ${MAX_PASSPHRASE_LENGTH} characters`;
  }
  // Lone surrogates have no UTF-8 form: a browser would send U+FFFD instead.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(passphrase)) return 'passphrase must be valid Unicode text';
  return undefined;
}

/** The derived key the ledger stores for a link's passphrase (base64url). */
export function hashPassphrase(passphrase: string, linkId: string): Promise<string> {
  const { N, r, p, keyLength, maxmem } = PASSPHRASE_KDF;
  return new Promise((resolve, reject) => {
    scrypt(normalizePassphrase(passphrase), passphraseSalt(linkId), keyLength, { N, r, p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(key.toString('base64url'));
    });
  });
}

/** RFC 4648 base32, lower case: no symbols that a mail client or a keyboard mangles. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A new passphrase: 20 random base32 characters (100 bits) in five groups of four,
 * `abcd-efgh-ijkl-mnop-qrst`, easy to read out on another channel.
 */
export function generatePassphrase(): string {
  const bytes = randomBytes(20);
  // 256 is a multiple of 32: every character is equally likely.
  const chars = Array.from(bytes, (b) => ALPHABET[b % 32]);
  return [0, 4, 8, 12, 16].map((i) => chars.slice(i, i + 4).join('')).join('-');
}
