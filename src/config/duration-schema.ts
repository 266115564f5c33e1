import { z } from 'zod';
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
