import type { RepoName } from '../oci/names.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type { NotificationAdmin } from '../notify/admin.ts';
import type { Registry, Repository } from '../storage/repository.ts';

/** What the routes need, passed in; no route module imports a singleton. */
export interface ApiDeps {
  /** The repository as this request may use it (decorated by notifications, later by auth). */
  repository: (name: RepoName, ctx: RequestContext) => Repository;
  registry: Registry;
  deleteEnabled: boolean;
  /** `http.host`: when set, Location headers are absolute URLs on it. */
  externalBaseUrl?: string;
  /** The operator API for notifications. */
  notifications: NotificationAdmin;
}
