// Link ids: the `x-link-id` the mint signs into every link, the ledger's key, and the
// argument of `cdk-otp status|revoke` and `GET|DELETE /urls/{id}`.
import { randomBytes } from 'crypto';

/**
 * A new link id: 16 random bytes as base64url without padding, so 22 characters of
 * A-Z a-z 0-9 _ - (the shape `isLinkId` accepts, unchanged), drawn again whenever it
 * begins with `-`, so that no id reads as an option on a command line
 * (`cdk-otp revoke -pT-KZ...` would be the option `-p`).
 *
 * Entropy: 16 bytes are 128 bits: 21 characters of 6 bits each and a last one of 2 bits
 * (always one of A Q g w). The first character is the first byte's top 6 bits; `-` is
 * value 62, so a redraw rejects exactly 1/64 of all values and leaves each of the other
 * 63 * 2^122 equally likely: log2(63 * 2^122) ≈ 127.977 bits, 0.023 bits fewer than 128.
 * Ids issued before this change (1/64 of them began with `-`) stay valid everywhere.
 *
 * @param random the source of random bytes (tests pass a scripted one)
 */
export function newLinkId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    // About one draw in 64 is redrawn; two in a row one in 4096.
    if (!id.startsWith('-')) return id;
  }
}
