import * as http from 'node:http';
import { gunzipSync } from 'node:zlib';

/**
 * A small stand-in for the Go client the conformance suite uses (bloodorangeio/reggie over
 * go-resty over net/http), written on node:http so the bytes on the wire follow Go's rules
 * rather than fetch's:
 *  - `<name>`, `<reference>`, `<digest>`, `<session_id>` are substituted into the path;
 *    `name` defaults to the suite namespace (OCI_NAMESPACE).
 *  - query parameters set on a request are encoded sorted by key (url.Values.Encode) and
 *    appended after any query the path already carries (resty's parseRequestURL).
 *  - a Content-Length header set by a test is never sent as such: Go's Request.write drops it
 *    (reqWriteExcludeHeader) and frames the real body itself. reggie's SetBody hands resty
 *    `ioutil.NopCloser(bytes.NewReader(body))`, a reader of unknown size, so http.NewRequest
 *    leaves ContentLength at 0 with a non-nil Body and net/http sends POST/PUT/PATCH bodies with
 *    `Transfer-Encoding: chunked` and no Content-Length. That is the default here;
 *    OCI_BODY_FRAMING=length sends `Content-Length: <n>` instead (what most clients do).
 *    POST/PUT/PATCH without a body send `Content-Length: 0`; GET/HEAD/DELETE without one, none.
 *  - resty sends no body on GET/HEAD (AllowGetMethodPayload is false) but keeps the headers.
 *  - resty copies Content-Type into Accept when Accept is unset and Content-Type is a JSON or
 *    XML type; nothing else sets Accept (no `*\/*` default as fetch would add).
 *  - net/http adds `Accept-Encoding: gzip` (not on HEAD or with a Range header) and
 *    transparently gunzips, and follows up to 10 redirects.
 */

const USER_AGENT = 'distribution-spec-conformance-tests';
const JSON_TYPE = /^(application|text)\/(json|.*\+json|json-.*)(;|$)/i;
const XML_TYPE = /^(application|text)\/(xml|.*\+xml)(;|$)/i;

export interface RequestOptions {
  name?: string;
  reference?: string;
  digest?: string;
  sessionId?: string;
}

export class Request {
  readonly headers = new Map<string, { name: string; value: string }>();
  readonly query: [string, string][] = [];
  body: Buffer | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
  ) {}

  setHeader(name: string, value: string): this {
    this.headers.set(name.toLowerCase(), { name, value });
    return this;
  }

  setQueryParam(name: string, value: string): this {
    const i = this.query.findIndex(([k]) => k === name);
    if (i >= 0) this.query.splice(i, 1);
    this.query.push([name, value]);
    return this;
  }

  setBody(body: Buffer): this {
    this.body = body;
    return this;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.value;
  }
}

export class Response {
  constructor(
    readonly request: { method: string; url: string; headers: Record<string, string>; bodyLength: number },
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: Buffer,
  ) {}

  /** Like Go's Header().Get: the first value, or "" when absent. */
  header(name: string): string {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return '';
    return Array.isArray(value) ? (value[0] ?? '') : value;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  /** reggie's GetRelativeLocation: path (+ "?" + raw query) of the Location header. */
  relativeLocation(): string {
    const loc = this.header('Location');
    if (loc === '') return '';
    let u: URL;
    try {
      u = new URL(loc, 'http://relative.invalid');
    } catch {
      return '';
    }
    return u.pathname + u.search;
  }

  /** reggie's GetAbsoluteLocation: the Location header as given. */
  absoluteLocation(): string {
    return this.header('Location');
  }

  /** reggie's Errors(): the spec's error array; throws when the body is not one (Go returns an error). */
  errors(): { code: string; message?: string }[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.text());
    } catch (err) {
      throw new Error(`error body is not JSON (${(err as Error).message})\n${this.dump()}`);
    }
    const errors = (parsed as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors) || errors.length === 0) {
      throw new Error(`body was valid json but could not be parsed as an error list\n${this.dump()}`);
    }
    return errors.map((e) => ({ code: String((e as { code?: unknown }).code ?? ''), message: (e as { message?: string }).message }));
  }

  /** Request and response, for assertion messages. */
  dump(): string {
    const req = this.request;
    const reqHeaders = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join(', ');
    const resHeaders = Object.entries(this.headers)
      .filter(([k]) => !['date', 'connection', 'keep-alive', 'x-powered-by'].includes(k))
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' | ') : v}`)
      .join(', ');
    const body = this.body.length > 1500 ? `${this.text().slice(0, 1500)}… (${this.body.length} bytes)` : this.text();
    return [
      `  request:  ${req.method} ${req.url}  [${reqHeaders}] body ${req.bodyLength} bytes`,
      `  response: ${this.status}  [${resHeaders}]`,
      `  body:     ${body === '' ? '(empty)' : body}`,
    ].join('\n');
  }
}

export class Client {
  readonly agent = new http.Agent({ keepAlive: true });
  readonly chunkedBodies: boolean;

  constructor(
    readonly address: string,
    readonly defaultName: string,
    framing: 'chunked' | 'length' = process.env.OCI_BODY_FRAMING === 'length' ? 'length' : 'chunked',
  ) {
    this.chunkedBodies = framing === 'chunked';
  }

  newRequest(method: string, path: string, opts: RequestOptions = {}): Request {
    const replacements: Record<string, string | undefined> = {
      '<name>': opts.name || this.defaultName,
      '<reference>': opts.reference,
      '<digest>': opts.digest,
      '<session_id>': opts.sessionId,
    };
    for (const [placeholder, value] of Object.entries(replacements)) {
      if (value) path = path.split(placeholder).join(value);
    }
    return new Request(method, `${this.address.replace(/\/$/, '')}/${path.replace(/^\//, '')}`);
  }

  async do(req: Request): Promise<Response> {
    if (/<name>|<reference>|<digest>|<session_id>|\/\/{2,}/.test(req.url)) throw new Error(`request is invalid: ${req.url}`);
    let url = req.url;
    if (req.query.length > 0) {
      const encoded = [...req.query]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${goQueryEscape(k)}=${goQueryEscape(v)}`)
        .join('&');
      const hash = url.indexOf('#');
      if (hash >= 0) url = url.slice(0, hash);
      url += url.includes('?') && !url.endsWith('?') ? `&${encoded}` : `${url.endsWith('?') ? '' : '?'}${encoded}`;
    }
    const headers: Record<string, string> = {};
    for (const { name, value } of req.headers.values()) {
      if (name.toLowerCase() !== 'content-length') headers[canonical(name)] = value;
    }
    if (!req.header('User-Agent')) headers['User-Agent'] = USER_AGENT;
    const contentType = req.header('Content-Type');
    if (!req.header('Accept') && contentType && (JSON_TYPE.test(contentType) || XML_TYPE.test(contentType))) {
      headers.Accept = contentType;
    }
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body;
    return this.send(req.method, url, headers, body, 0);
  }

  private async send(method: string, url: string, headers: Record<string, string>, body: Buffer | undefined, hops: number): Promise<Response> {
    const u = new URL(url);
    const out: Record<string, string> = { ...headers };
    const gzip = !out['Accept-Encoding'] && !out.Range && method !== 'HEAD';
    if (gzip) out['Accept-Encoding'] = 'gzip';
    if (body !== undefined && this.chunkedBodies) out['Transfer-Encoding'] = 'chunked';
    else if (body !== undefined) out['Content-Length'] = String(body.length);
    else if (method === 'POST' || method === 'PUT' || method === 'PATCH') out['Content-Length'] = '0';

    const { status, resHeaders, resBody } = await new Promise<{ status: number; resHeaders: http.IncomingHttpHeaders; resBody: Buffer }>(
      (resolve, reject) => {
        const clientReq = http.request(
          { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: out, agent: this.agent },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, resHeaders: res.headers, resBody: Buffer.concat(chunks) }));
            res.on('error', reject);
          },
        );
        clientReq.on('error', reject);
        clientReq.setTimeout(30_000, () => clientReq.destroy(new Error(`no answer within 30s: ${method} ${url}`)));
        if (body !== undefined && body.length > 0) clientReq.write(body);
        clientReq.end();
      },
    );

    let finalBody = resBody;
    const finalHeaders = { ...resHeaders };
    if (gzip && resHeaders['content-encoding'] === 'gzip' && resBody.length > 0) {
      finalBody = gunzipSync(resBody);
      delete finalHeaders['content-encoding'];
      delete finalHeaders['content-length'];
    }

    const location = resHeaders.location;
    if ([301, 302, 303, 307, 308].includes(status) && location && hops < 10) {
      const next = new URL(location, url).toString();
      const keepBody = status === 307 || status === 308;
      const nextMethod = keepBody || method === 'GET' || method === 'HEAD' ? method : 'GET';
      return this.send(nextMethod, next, headers, keepBody ? body : undefined, hops + 1);
    }
    return new Response({ method, url, headers: out, bodyLength: body?.length ?? 0 }, status, finalHeaders, finalBody);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Go's url.QueryEscape: only letters, digits, '-', '_', '.', '~' stay; space becomes '+'. */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's textproto.CanonicalMIMEHeaderKey, for readable dumps and faithful header names. */
function canonical(name: string): string {
  return name
    .split('-')
    .map((part) => (part.length ? part[0]!.toUpperCase() + part.slice(1).toLowerCase() : part))
    .join('-');
}
