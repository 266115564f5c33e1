import type { TokenService } from '../auth/token-service.ts';
import type { UiOptions } from '../config/ui.ts';
import type { RepoName } from '../oci/names.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type { NotificationAdmin } from '../notify/admin.ts';
import type { Registry, Repository } from '../storage/repository.ts';
import type { Guards } from './guards.ts';

/** What the routes need, passed in; no route module imports a singleton. */
export interface ApiDeps {
  /** The repository as this request may use it (decorated by notifications). */
  repository: (name: RepoName, ctx: RequestContext) => Repository;
  registry: Registry;
  deleteEnabled: boolean;
  /** `storage.maintenance.readonly.enabled`: every write under /v2/ refused with 405 (read-only.ts). */
  readOnly: boolean;
  /** Blob GETs answer 307 to the storage's own URL when it has one (`storage.redirect.disable: false`). */
  redirect: boolean;
  /** `http.host`: when set, Location headers are absolute URLs on it. */
  externalBaseUrl?: string;
  /** Why the storage cannot be used now (a bucket unreachable), or null; for readiness. */
  storageProblem: () => Promise<string | null>;
  /** The operator API for notifications. */
  notifications: NotificationAdmin;
  /** The address this registry listens on (`http://host:port`), known once listening: inbox endpoints target it. */
  selfUrl?: () => string;
  /** The access each route needs, checked before its handler. */
  guards: Guards;
  /** The built-in token service (`auth.tokenservice`), served at /auth/token. */
  tokenService: TokenService | null;
  /** `ui`: the test bed pages and the image import (`POST /ui/import`). */
  ui: UiOptions;
}
