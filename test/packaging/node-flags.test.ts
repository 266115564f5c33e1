import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.ts';

// V8 sizes the main thread's heap at start: the flags must be on node's command line of every
// launch path, and the same on each (src/node-flags.ts says why they are there). The image's
// ENTRYPOINT is checked with the rest of the Dockerfile (deployment-files.test.ts), the
// benchmarks' by their spawnDockyard, which prepends the same list.
const file = (name: string) => fileURLToPath(new URL(`../../${name}`, import.meta.url));
const flags = SERVER_NODE_FLAGS.join(' ');
const run = promisify(execFile);

describe('the V8 flags of the server, on every launch path', () => {
  it('are a non-empty list of node options that this node accepts', async () => {
    assert.ok(SERVER_NODE_FLAGS.length > 0);
    for (const flag of SERVER_NODE_FLAGS) assert.match(flag, /^--[a-z0-9-]+(=\S+)?$/);
    const { stdout } = await run(process.execPath, [...SERVER_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { timeout: 20_000 });
    assert.equal(stdout, 'ok');
  });

  it('npm start runs node with them', () => {
    const pkg = JSON.parse(readFileSync(file('package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `exec node ${flags} scripts/start.mjs`);
  });

  it("the dockyard bin's first line starts node with them, and the CLI answers as the kernel runs it", async () => {
    const first = readFileSync(file('src/main.ts'), 'utf8').split('\n')[0];
    assert.equal(first, `#!/usr/bin/env -S node ${flags}`);
    // The kernel runs `#!/usr/bin/env -S node FLAGS` as `/usr/bin/env '-S node FLAGS' FILE ARGS`;
    // from the sources, tsx's loader goes after the flags.
    const interpreter = first.slice('#!/usr/bin/env '.length);
    const { stdout } = await run('/usr/bin/env', [interpreter, '--import', 'tsx', file('src/main.ts'), '--version'], { timeout: 30_000, cwd: file('.') });
    assert.match(stdout, /\d+\.\d+\.\d+/);
  });
});
