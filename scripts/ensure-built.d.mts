/** Why a build is needed, or null when dist/ is up to date with src/ and the build configuration. */
export function staleReason(root?: string): string | null;
/** Builds when needed (or when `force`); throws if the build fails. Resolves with whether it built. */
export function ensureBuilt(options?: { force?: boolean; quiet?: boolean }): Promise<boolean>;
