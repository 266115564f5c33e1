import type { EndpointConfig } from '../config/notifications.ts';
import type { Event } from './event.ts';
import { globToRegExp } from '../oci/glob.ts';

/** Which events an endpoint wants, from its config; decided once per event, before the outbox. */
export class EventFilter {
  private readonly mediaTypes: Set<string>;
  private readonly actions: Set<string>;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];

  constructor(private readonly config: EndpointConfig) {
    this.mediaTypes = new Set([...config.ignoredmediatypes, ...config.ignore.mediatypes]);
    this.actions = new Set(config.ignore.actions);
    this.include = config.repositories.include.map(globToRegExp);
    this.exclude = config.repositories.exclude.map(globToRegExp);
  }

  accepts(event: Event): boolean {
    if (event.request.method === 'HEAD' && !this.config.includehead) return false;
    if (this.actions.has(event.action)) return false;
    if (event.target.mediaType !== undefined && this.mediaTypes.has(event.target.mediaType)) return false;
    const repo = event.target.repository;
    if (this.include.length > 0 && !this.include.some((re) => re.test(repo))) return false;
    if (this.exclude.some((re) => re.test(repo))) return false;
    return true;
  }
}
