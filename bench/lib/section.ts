/** Puts a `## ...` section into BENCHMARKS.md: replaces the one with that title, or appends it. */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './env.ts';

export function putSection(title: string, body: string): string {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const section = `${title}\n\n${body.trim()}\n`;
  const start = text.indexOf(`${title}\n`);
  let next: string;
  if (start === -1) next = `${text.trimEnd()}\n\n${section}`;
  else {
    const end = text.indexOf('\n## ', start + title.length);
    next = text.slice(0, start) + section + (end === -1 ? '' : `\n${text.slice(end + 1)}`);
  }
  writeFileSync(file, next);
  return file;
}
