import type { IncomingMessage } from 'node:http';
import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from 'prom-client';
import { elapsedSeconds, exchangeOf, type Exchange } from './exchange.ts';
import type { ApiResponse, Middleware } from './handler.ts';
import { query } from './params.ts';

/** Distribution's (docker/go-metrics) defaults, so its dashboards' bucket queries still work. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60];
const SIZE_BUCKETS = exponentialBuckets(1024, 2, 22); // 1 KiB to 4 GiB

/**
 * HTTP metrics. The `registry_http_*` ones carry Distribution's names and labels; `handler` is
 * the route's name (a fixed set, never a repository). Upload sessions and blob bytes are ours.
 */
export class HttpMetrics {
  private readonly requests: Counter<'code' | 'handler' | 'method'>;
  private readonly duration: Histogram<'handler' | 'method'>;
  private readonly requestSize: Histogram<'handler'>;
  private readonly responseSize: Histogram<'handler'>;
  private readonly inFlight: Gauge<'handler'>;
  private readonly uploads: Counter<'outcome'>;
  private readonly blobBytes: Counter<'direction'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'registry_http_requests_total',
      help: 'Total number of HTTP requests made.',
      labelNames: ['code', 'handler', 'method'],
      registers,
    });
    this.duration = new Histogram({
      name: 'registry_http_request_duration_seconds',
      help: 'The HTTP request latencies in seconds.',
      labelNames: ['handler', 'method'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.requestSize = new Histogram({
      name: 'registry_http_request_size_bytes',
      help: 'The HTTP request body sizes in bytes.',
      labelNames: ['handler'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.responseSize = new Histogram({
      name: 'registry_http_response_size_bytes',
      help: 'The HTTP response body sizes in bytes.',
      labelNames: ['handler'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'registry_http_in_flight_requests',
      help: 'The in-flight HTTP requests.',
      labelNames: ['handler'],
      registers,
    });
    this.uploads = new Counter({
      name: 'dockyard_upload_sessions_total',
      help: 'Blob upload sessions by outcome (started, completed, cancelled); a single-request push is started and completed',
      labelNames: ['outcome'],
      registers,
    });
    this.blobBytes = new Counter({
      name: 'dockyard_blob_bytes_total',
      help: 'Blob bytes through this server (direction: pushed, the upload bodies received; pulled, the blob bodies sent; a redirect to the storage sends none)',
      labelNames: ['direction'],
      registers,
    });
  }

  /** Counts each request once its response is over; after `measureExchange`. */
  middleware(): Middleware {
    return (req, res, next) => {
      const exchange = exchangeOf(res);
      const { handler } = exchange;
      this.inFlight.inc({ handler });
      let counted = false;
      const over = () => {
        if (counted) return;
        counted = true;
        this.inFlight.dec({ handler });
        this.observe(req.method ?? '', res, exchange, handler === 'blob-upload' && mounting(req));
      };
      res.once('finish', over);
      res.once('close', over);
      next();
    };
  }

  private observe(method: string, res: ApiResponse, exchange: Exchange, mount: boolean): void {
    const { handler } = exchange;
    const code = String(res.statusCode);
    this.requests.inc({ code, handler, method });
    this.duration.observe({ handler, method }, elapsedSeconds(exchange));
    this.requestSize.observe({ handler }, exchange.bytesIn);
    this.responseSize.observe({ handler }, exchange.bytesOut);
    if (handler === 'blob-upload' || handler === 'blob-upload-chunk') {
      if (exchange.bytesIn > 0) this.blobBytes.inc({ direction: 'pushed' }, exchange.bytesIn);
      this.countUpload(handler, method, res.statusCode, mount);
    } else if (handler === 'blob' && method === 'GET' && exchange.bytesOut > 0) {
      this.blobBytes.inc({ direction: 'pulled' }, exchange.bytesOut);
    }
  }

  /** From what the upload routes answered: only an operation that succeeded counts. */
  private countUpload(handler: string, method: string, status: number, mount: boolean): void {
    if (handler === 'blob-upload' && method === 'POST') {
      if (status === 202) this.uploads.inc({ outcome: 'started' });
      else if (status === 201 && !mount) {
        this.uploads.inc({ outcome: 'started' });
        this.uploads.inc({ outcome: 'completed' });
      }
    } else if (handler === 'blob-upload-chunk') {
      if (method === 'PUT' && status === 201) this.uploads.inc({ outcome: 'completed' });
      else if (method === 'DELETE' && status === 204) this.uploads.inc({ outcome: 'cancelled' });
    }
  }
}

/** Whether an upload start asked for a mount (`?mount=`), given once or not. */
function mounting(req: IncomingMessage): boolean {
  try {
    return query(req, 'mount') !== undefined;
  } catch {
    return false;
  }
}
