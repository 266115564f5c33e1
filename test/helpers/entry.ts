import { staleReason } from '../../scripts/ensure-built.mjs';

/**
 * How tests start `dockyard` as a process of its own (node's arguments before the command's):
 * the compiled dist/main.js when it is built from these very sources (`npm ci` builds it; the
 * check is scripts/ensure-built.mjs's), else src/main.ts through tsx. The same code either way;
 * the compiled one starts about 0.6 s sooner, which the crash tests' many starts add up to
 * minutes of the suite. Decided once per test process: a build finishing meanwhile changes nothing.
 */
export const DOCKYARD_ENTRY: readonly string[] = staleReason() === null ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
