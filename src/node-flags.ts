/**
 * The V8 flags every launch of the server carries: `npm start` (package.json), the `dockyard`
 * bin (src/main.ts's first line), the image's ENTRYPOINT (Dockerfile) and the benchmarks
 * (bench/lib/registries.ts). A test holds them to this list. They have to be on node's command
 * line: V8 sizes the main thread's heap when the process starts.
 *
 * `--max-semi-space-size=2`: with V8's default young generation here (16 MB semi-spaces), the
 * garbage between scavenges kept 30-55 MiB more resident under a manifest HEAD or GET load
 * (peak RSS 165-170 MiB against 132-136 without a webhook, 225-260 against 185-205 with one).
 * The price is more frequent scavenges, each copying what in-flight requests hold: none that
 * shows without a webhook (server CPU per request 0.28-0.31 ms either way), about 5% of the
 * pulls/s with one, whose requests live longer (they wait for the outbox). BENCHMARKS.md,
 * issue 12. Worker threads have their own limit (src/notify/threads/thread.ts).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
