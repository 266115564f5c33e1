import { z } from 'zod';
import { parseListenAddress } from './listen-address.ts';
import { parseDuration } from './duration.ts';

/** A Go-style duration (`1s`, `500ms`, `168h`) in milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `invalid duration "${value}" (use forms like 500ms, 1s, 1h30m)` });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be more than zero (an interval). */
export const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });

// Values from the environment arrive as text; YAML gives real types. Both are accepted, and the
// text is read by the type of the key it sets, as Distribution does.
const TRUE_TEXT = new Set(['1', 't', 'T', 'true', 'True', 'TRUE']);
const FALSE_TEXT = new Set(['0', 'f', 'F', 'false', 'False', 'FALSE']);
/** A boolean; from text, the forms Go's strconv.ParseBool reads. */
export const bool = z.preprocess(
  (v) => (typeof v === 'string' && TRUE_TEXT.has(v) ? true : typeof v === 'string' && FALSE_TEXT.has(v) ? false : v),
  z.boolean(),
);

export const int = (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess((v) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max));

/** `host:port` for a listener. */
export const listenAddress = z.string().refine(
  (addr) => {
    try {
      parseListenAddress(addr);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected host:port with a port from 0 to 65535 (e.g. 127.0.0.1:5000 or :5000)' },
);
