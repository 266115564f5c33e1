import { globToRegExp } from '../../oci/glob.ts';
import type { Event } from '../event.ts';
import type { EndpointFilterOptions } from '../options.ts';

/** Which events an endpoint wants, from its options; decided once per event, before the outbox. */
export class EventFilter {
  private readonly mediaTypes: Set<string>;
  private readonly actions: Set<string>;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];

  constructor(private readonly options: EndpointFilterOptions) {
    this.mediaTypes = new Set(options.ignoredMediaTypes);
    this.actions = new Set(options.ignoredActions);
    this.include = options.repositories.include.map(globToRegExp);
    this.exclude = options.repositories.exclude.map(globToRegExp);
  }

  accepts(event: Event): boolean {
    if (event.request.method === 'HEAD' && !this.options.includeHead) return false;
    if (this.actions.has(event.action)) return false;
    if (event.target.mediaType !== undefined && this.mediaTypes.has(event.target.mediaType)) return false;
    const repo = event.target.repository;
    if (this.include.length > 0 && !this.include.some((re) => re.test(repo))) return false;
    if (this.exclude.some((re) => re.test(repo))) return false;
    return true;
  }
}
