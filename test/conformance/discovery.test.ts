import { describe } from 'node:test';
import { withRegistry } from './harness.ts';
import { test03ContentDiscovery } from './discovery.ts';

/**
 * One workflow of the OCI distribution-spec conformance suite (v1.1.x, conformance/03_discovery_test.go),
 * against its own fresh Dockyard registry on loopback. reggie.ts explains how the Go client's
 * wire behaviour is reproduced; suite.test.ts runs all four workflows in one namespace.
 */
describe('OCI Distribution Conformance Tests', () => {
  const suite = withRegistry();
  test03ContentDiscovery(suite);
});
