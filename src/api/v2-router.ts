import { RegistryError } from '../oci/errors.ts';
import { isV2Route } from './exchange.ts';
import { runInOrder, type ApiRequest, type ApiResponse, type Handler, type Next } from './handler.ts';
import { Header } from './headers.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface Resource {
  regex: RegExp;
  /** Each method's chain: guard first, then the handler. */
  methods: Partial<Record<Method, Handler[]>>;
  allow: string;
}

/**
 * The `/v2/` routes, dispatched on node's own request and response. Not through Express: its app
 * sets the prototype of every request and response (`Object.setPrototypeOf`), which alone took a
 * plain node handler from 23,600 to 6,200 HEAD/s on this machine, and Express with our route table
 * to 3,600. What Express did for these routes is here: the first resource whose regex matches the
 * path runs, its groups percent-decoded as `params` (a bad encoding is a 400); a HEAD without its
 * own handler runs the GET one; another method is 405 with `Allow`; errors go to `done`.
 */
export class V2Router {
  private readonly resources: Resource[] = [];

  /** Registers one resource path; the path must be named in exchange.ts, for logs and metrics. */
  resource(regex: RegExp, methods: Partial<Record<Method, Handler[]>>): void {
    if (!isV2Route(regex)) {
      throw new Error(`route ${regex.source} has no name in src/api/exchange.ts: add it for logs and metrics`);
    }
    this.resources.push({ regex, methods, allow: Object.keys(methods).join(', ') });
  }

  /** Runs the request's route; false when no route has the path (nothing was done). */
  handle(path: string, req: ApiRequest, res: ApiResponse, done: Next): boolean {
    for (const resource of this.resources) {
      const match = resource.regex.exec(path);
      if (!match) continue;
      try {
        req.params = decodeParams(match);
      } catch (err) {
        done(err);
        return true;
      }
      const method = req.method as Method;
      const chain = resource.methods[method] ?? (method === 'HEAD' ? resource.methods.GET : undefined);
      if (!chain) {
        done(new RegistryError('UNSUPPORTED', `method ${req.method} is not supported on this resource`, {
          headers: { [Header.Allow]: resource.allow },
          detail: { method: req.method, allowed: Object.keys(resource.methods) },
        }));
        return true;
      }
      runInOrder(chain, req, res, done);
      return true;
    }
    return false;
  }
}

function decodeParams(match: RegExpExecArray): Record<number, string | undefined> {
  const params: Record<number, string | undefined> = {};
  for (let i = 1; i < match.length; i++) params[i - 1] = decodeParam(match[i]);
  return params;
}

/** As Express's router: a capture that is not valid percent-encoding is the client's error. */
function decodeParam(value: string | undefined): string | undefined {
  if (value === undefined || value.length === 0) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw Object.assign(new Error(`Failed to decode param '${value.slice(0, 100)}'`), { status: 400 });
  }
}
