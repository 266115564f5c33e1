import { describe } from 'node:test';
import { test03ContentDiscovery } from './discovery.ts';
import { withRegistry } from './harness.ts';
import { test04ContentManagement } from './management.ts';
import { test01Pull } from './pull.ts';
import { test02Push } from './push.ts';

/**
 * The whole suite as the Go runner executes it (00_conformance_suite_test.go): the four
 * workflows in order, against ONE registry and ONE namespace, sharing fixtures, so each
 * workflow sees what the previous ones left behind (deleted manifests, re-pointed tags...).
 * The per-workflow files send bodies chunked, as the Go client does; this run sends them with
 * Content-Length, as skopeo, containerd and most other clients do, so both framings are covered.
 */
describe('OCI Distribution Conformance Tests (all workflows, one namespace, Content-Length bodies)', () => {
  const suite = withRegistry('length');
  test01Pull(suite);
  test02Push(suite);
  test03ContentDiscovery(suite);
  test04ContentManagement(suite);
});
