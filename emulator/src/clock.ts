/** The emulator's controllable clock (fidelity checklist 31): real time plus an offset that tests can move. */
import type { Clock } from './model.js';

export function createClock(startOffsetMs = 0): Clock & { offsetMs(): number } {
  let offset = startOffsetMs;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms: number) {
      offset += ms;
    },
    offsetMs: () => offset,
  };
}

/** RFC 1123 date as Azure Storage prints it, e.g. `Thu, 13 Jun 2019 16:18:07 GMT`. */
export function rfc1123(d: Date): string {
  return d.toUTCString();
}
