// How many bytes of an object a GET asks for, read from its Range header the way S3 reads
// it, so a download session can be charged for what it will be sent.

/**
 * A use may transfer at most three times the object's size plus 1 MiB: enough for a
 * download that restarts twice and a media player's probes and seeks, not enough to turn
 * a one-time link into a mirror.
 */
export function bytesPerUse(objectSize: number): number {
  return 3 * objectSize + 1024 * 1024;
}

/**
 * The bytes S3 sends for this Range (undefined: the whole object). S3 serves a single
 * range (`bytes=a-b`, `bytes=a-`, `bytes=-n`), clamps its end to the object, answers 416
 * without a body when the start is past the end, and ignores a header it cannot use
 * (several ranges, bad syntax) by sending the whole object ("GetObject", Amazon S3 API
 * Reference: "Amazon S3 doesn't support retrieving multiple ranges of data per GET request").
 */
export function requestedBytes(range: string | undefined, objectSize: number): number {
  if (range === undefined) return objectSize;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!m || (m[1] === '' && m[2] === '')) return objectSize;
  if (m[1] === '') return Math.min(Number(m[2]), objectSize); // the last n bytes
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return objectSize; // invalid: ignored
  if (start >= objectSize) return 0; // 416
  return Math.min(end, objectSize - 1) - start + 1;
}
