import { EVENT_ACTIONS, type Action, type Event } from '../event.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DIGEST = 'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b';
const LAYER = 'sha256:9b2a9d3f63e1ab8f8a4d0c5e2f6b1a7c3d9e8f0a1b2c3d4e5f60718293a4b5c6';

/**
 * One example of each action's event, as a consumer receives it (what a webhook developer codes
 * against before any push): the shapes the registry emits, with made-up ids and digests. Checked
 * against the event schema by a test, so they cannot drift from what is sent.
 */
export function exampleEvent(action: Action): Event {
  const base = {
    id: `00000000-0000-4000-8000-00000000000${EVENT_ACTIONS.indexOf(action) + 1}`,
    timestamp: '2026-01-01T12:00:00.000Z',
    action,
    request: { id: 'c7a3f0e2-5b1d-4c8e-9f6a-2d4b8e1c3a5f', addr: '192.0.2.10:51234', host: 'registry.example.com', method: 'PUT', useragent: 'docker/27.0.3' },
    actor: { name: 'alice' },
    source: { addr: 'registry-1:5000', instanceID: '3f9b1c2d-7e4a-4b6f-8a1d-5c2e9f0b7a34' },
  } satisfies Omit<Event, 'target'>;
  switch (action) {
    case 'push':
      return { ...base, target: { mediaType: MANIFEST, size: 528, digest: DIGEST, length: 528, repository: 'team/app', url: `https://registry.example.com/v2/team/app/manifests/${DIGEST}`, tag: 'v1.2.0' } };
    case 'pull':
      return { ...base, request: { ...base.request, method: 'GET' }, target: { mediaType: MANIFEST, size: 528, digest: DIGEST, length: 528, repository: 'team/app', url: `https://registry.example.com/v2/team/app/manifests/${DIGEST}`, tag: 'v1.2.0' } };
    case 'delete':
      return { ...base, request: { ...base.request, method: 'DELETE' }, target: { digest: DIGEST, repository: 'team/app' } };
    case 'mount':
      return {
        ...base,
        request: { ...base.request, method: 'POST' },
        target: { mediaType: 'application/octet-stream', size: 3_145_728, digest: LAYER, length: 3_145_728, repository: 'team/app', fromRepository: 'team/base', url: `https://registry.example.com/v2/team/app/blobs/${LAYER}` },
      };
    case 'ping':
      return { ...base, request: { ...base.request, method: 'POST', useragent: 'dockyard-ping' }, actor: {}, target: { repository: '' } };
  }
}
