import type { Event } from '../event.ts';
import type { EventFactory } from './source.ts';

/** The test event `POST /notifications/endpoints/<name>/ping` sends. */
export function pingEvent(factory: EventFactory): Event {
  return factory.create(
    'ping',
    { repository: '' },
    { id: 'ping', addr: '', clientIp: '', host: '', method: 'POST', useragent: 'dockyard-ping', baseUrl: '', concluded: Promise.resolve(true) },
  );
}
