/**
 * Named failpoints: steps of a write path where a crash test can make the process die at once,
 * exactly there, to prove what survives a crash at that step. Set `DOCKYARD_FAILPOINTS` to a
 * comma-separated list of names (a name may end in `@N`: die on its N-th hit instead of the
 * first). Unset, as in production, `failpoint` is a function that does nothing.
 */
const spec = process.env.DOCKYARD_FAILPOINTS?.trim() ?? '';

function parse(text: string): Map<string, number> {
  const points = new Map<string, number>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name = '', nth] = item.split('@');
    points.set(name, nth === undefined ? 1 : Math.max(1, Number(nth) || 1));
  }
  return points;
}

function armed(points: Map<string, number>): (name: string) => void {
  const hits = new Map<string, number>();
  return (name) => {
    const at = points.get(name);
    if (at === undefined) return;
    const hit = (hits.get(name) ?? 0) + 1;
    hits.set(name, hit);
    if (hit === at) {
      process.stderr.write(`dockyard: failpoint ${name} reached: exiting\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

export const failpoint: (name: string) => void = spec === '' ? () => {} : armed(parse(spec));
