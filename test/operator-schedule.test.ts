// When edge containers read the operator switches: every container of the fleet reads one
// parameter against one account-wide quota, so reads are spread and back off.
import * as fc from 'fast-check';
import { EDGE_OPERATOR_REFRESH_SECONDS, nextOperatorRead } from '../src/shared/config';

const NOW = Date.UTC(2026, 11, 2, 12);
const waitOf = (failures: number, random: number, interval = EDGE_OPERATOR_REFRESH_SECONDS) =>
  (nextOperatorRead(NOW, failures, random, interval) - NOW) / 1000;

/** A small seeded generator (Park and Miller's), so the fleet simulation is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed % 2147483647 || 1;
  return () => {
    state = (state * 48271) % 2147483647;
    return (state - 1) / 2147483646;
  };
}

/**
 * `containers` warm containers that all read at the same instant (a deployment, a burst of cold
 * starts) and then each read when due (a busy container serves a request at once), for an hour.
 * Reads per second, by second.
 */
function simulateFleet(containers: number, random: () => number, fails: (t: number) => boolean = () => false): number[] {
  const seconds = 3600;
  const perSecond: number[] = new Array(seconds).fill(0);
  for (let c = 0; c < containers; c++) {
    let at = NOW;
    let failures = 0;
    while (at < NOW + seconds * 1000) {
      const second = Math.floor((at - NOW) / 1000);
      perSecond[second]++;
      failures = fails(second) ? failures + 1 : 0;
      at = nextOperatorRead(at, failures, random());
    }
  }
  return perSecond;
}

describe('nextOperatorRead', () => {
  it('waits the interval ± 20 % after a read that succeeded', () => {
    expect(waitOf(0, 0)).toBe(48);
    expect(waitOf(0, 0.5)).toBe(60);
    expect(waitOf(0, 0.999999)).toBeCloseTo(72, 2);
    expect(waitOf(0, 0.5, 600)).toBe(600);
  });

  it('backs off after failures: twice the interval, doubling, capped at 5 minutes ± 20 %', () => {
    expect([1, 2, 3, 4, 10, 1000].map((failures) => waitOf(failures, 0.5))).toEqual([120, 240, 300, 300, 300, 300]);
    expect(waitOf(3, 0)).toBe(240);
    expect(waitOf(3, 0.999999)).toBeCloseTo(360, 2);
  });

  it('never backs off beyond an interval longer than 5 minutes', () => {
    expect([1, 2, 50].map((failures) => waitOf(failures, 0.5, 900))).toEqual([900, 900, 900]);
    expect([1, 2].map((failures) => waitOf(failures, 0.5, 200))).toEqual([300, 300]);
  });

  it('never reads sooner than 80 % of the interval, nor later than 120 % of max(interval, 5 minutes)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 10, max: 3600 }),
      (failures, random, interval) => {
        const wait = waitOf(failures, random, interval);
        // 1 ms of slack: the schedule rounds to whole milliseconds.
        return wait >= 0.8 * interval - 0.001 && wait <= 1.2 * Math.max(interval, 300) + 0.001;
      }));
  });

  it.each([1_000, 10_000])('spreads %i containers that start together: the fleet reads containers ÷ 60 s per second, never in step', (containers) => {
    const perSecond = simulateFleet(containers, seeded(containers));
    // In step, every container would read in the same second, every minute.
    expect(perSecond[0]).toBe(containers);
    const settled = perSecond.slice(600);
    const mean = settled.reduce((a, b) => a + b, 0) / settled.length;
    expect(mean).toBeGreaterThan(0.97 * containers / 60);
    expect(mean).toBeLessThan(1.03 * containers / 60);
    // Ten minutes in, the busiest second is what independent readers give (a Poisson process:
    // within 6 standard deviations of the mean), not the whole fleet at once.
    expect(Math.max(...settled)).toBeLessThan(mean + 6 * Math.sqrt(mean));
    expect(Math.max(...settled)).toBeLessThan(containers / 20);
  });

  it('reads less, not more, while every read fails (a throttled fleet)', () => {
    const healthy = simulateFleet(1_000, seeded(7)).reduce((a, b) => a + b, 0);
    const throttled = simulateFleet(1_000, seeded(7), () => true).reduce((a, b) => a + b, 0);
    expect(throttled).toBeLessThan(healthy / 4);
  });
});
