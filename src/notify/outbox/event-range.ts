import type Database from 'better-sqlite3';
import type { Event } from '../event.ts';
import { EventState, type EventRange } from '../protocol.ts';

/**
 * Replay and query of retained events by range, on the SQLite outbox. An event routed to several
 * endpoints (or redelivered) has several rows; its first row stands for it. Ranges are on the
 * event's own timestamp (ISO 8601 in UTC, so text order is time order).
 */
const RANGE = `json_extract(payload, '$.timestamp') >= @since AND json_extract(payload, '$.timestamp') < @until
  AND (@repository IS NULL OR json_extract(payload, '$.target.repository') = @repository)
  AND (@action IS NULL OR json_extract(payload, '$.action') = @action)`;

export class EventRangeSql {
  private readonly replayable: Database.Statement;
  private readonly copy: Database.Statement;
  private readonly undead: Database.Statement;
  private readonly listed: Database.Statement;

  constructor(db: Database.Database) {
    // Not those still pending for the endpoint: they are on their way already.
    this.replayable = db.prepare(
      `SELECT MIN(seq) AS seq, event_id FROM events WHERE endpoint = @endpoint AND ${RANGE}
       GROUP BY event_id HAVING SUM(state = ${EventState.Pending}) = 0 ORDER BY MIN(seq)`,
    );
    this.copy = db.prepare('INSERT INTO events (endpoint, event_id, payload, enqueued_at) SELECT endpoint, event_id, payload, ? FROM events WHERE seq = ?');
    this.undead = db.prepare(
      `UPDATE events SET state = ${EventState.Requeued}, settled_at = ?, last_error = 'requeued by replay' WHERE endpoint = ? AND event_id = ? AND state = ${EventState.Dead}`,
    );
    this.listed = db.prepare(
      `SELECT payload FROM events WHERE seq IN (SELECT MIN(seq) FROM events WHERE ${RANGE} GROUP BY event_id) ORDER BY seq LIMIT @limit`,
    );
  }

  /** In the writer's transaction: queues the range again for the endpoint; how many. */
  replay(endpoint: string, range: EventRange, now: number): number {
    const rows = this.replayable.all({ endpoint, ...range }) as { seq: number; event_id: string }[];
    for (const row of rows) {
      this.copy.run(now, row.seq);
      this.undead.run(now, endpoint, row.event_id);
    }
    return rows.length;
  }

  events(range: EventRange, limit: number): Event[] {
    return (this.listed.all({ ...range, limit }) as { payload: string }[]).map((r) => JSON.parse(r.payload) as Event);
  }
}
