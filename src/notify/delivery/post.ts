/**
 * One POST through undici's dispatcher, answered by a callback handler: no response stream, no
 * async iterator, one promise. undici's `request()` builds a Readable body for every response
 * and an abort-signal bridge for every request, and at a few thousand POSTs a second on one
 * thread that machinery cost more than the request itself (BENCHMARKS.md, issue 12).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** How much of a response body is kept (the delivery log shows it). */
const RESPONSE_HEAD_BYTES = 512;
/** A response body larger than this is not read to the end (the connection is dropped instead). */
const RESPONSE_DRAIN_LIMIT = 64 * 1024;

export interface PostRequest {
  url: URL;
  body: Buffer | string;
  headers: Record<string, string>;
  /** The whole attempt, from dispatch to the end of the body: a TimeoutError after it. */
  timeoutMs: number;
  /** Aborts the attempt (shutdown): the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface PostAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first RESPONSE_HEAD_BYTES of the body, or null for an empty one or one that broke. */
  head: string | null;
}

/**
 * Resolves once the status and the body are in (or the body broke or ran past the drain limit
 * after the status: the status decides, so that still resolves); rejects when no status came.
 */
export function post(dispatcher: Dispatcher, req: PostRequest): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let abortWith: Error | null = null;
    let answer: PostAnswer | null = null;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let total = 0;
    let settled = false;

    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (answer) {
        answer.head = keptBytes > 0 && err === null ? Buffer.concat(kept).toString('utf8') : answer.head;
        resolve(answer);
      } else {
        reject(err ?? new Error('the request ended without a response'));
      }
    };
    const abort = (reason: Error) => {
      abortWith = reason;
      if (controller && !controller.aborted) controller.abort(reason);
      finish(reason);
    };
    const timer = setTimeout(() => {
      const reason = new Error(`no answer within ${req.timeoutMs} ms`);
      reason.name = 'TimeoutError';
      abort(reason);
    }, req.timeoutMs);
    const onAbort = () => abort(req.signal?.reason instanceof Error ? req.signal.reason : new Error('aborted'));
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (abortWith) c.abort(abortWith);
      },
      onResponseStart(_c, status, headers) {
        if (status < 200) return; // an informational answer: the real one follows
        answer = { status, headers, head: null };
      },
      onResponseData(c, chunk) {
        total += chunk.length;
        if (keptBytes < RESPONSE_HEAD_BYTES) {
          const part = chunk.subarray(0, RESPONSE_HEAD_BYTES - keptBytes);
          kept.push(part);
          keptBytes += part.length;
        }
        if (total > RESPONSE_DRAIN_LIMIT) {
          // Keep what was read: the head is shown, the rest is not worth the connection.
          if (answer) answer.head = Buffer.concat(kept).toString('utf8');
          c.abort(new Error('response body over the drain limit'));
        }
      },
      onResponseEnd() {
        finish(null);
      },
      onResponseError(_c, err) {
        finish(err);
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin: req.url.origin,
          path: req.url.pathname + req.url.search,
          method: 'POST',
          body: req.body,
          headers: req.headers,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        },
        handler,
      );
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
