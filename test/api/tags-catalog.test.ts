import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertErrorBody, expectError } from '../helpers/assertions.ts';
import { Client } from '../helpers/client.ts';
import { ociImage } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

/** The target of an RFC 8288 `Link: <url>; rel="next"` header, or null. */
function nextLink(res: Response): string | null {
  const header = res.headers.get('link');
  if (header === null) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(header.trim());
  assert.ok(m, `malformed Link header: ${header}`);
  return m[1]!;
}

/** Follows Link headers from `path`, at most `maxPages` pages; returns every page's items. */
async function walk(c: Client, path: string, key: 'tags' | 'repositories', maxPages = 20): Promise<string[][]> {
  const pages: string[][] = [];
  let next: string | null = path;
  while (next !== null) {
    assert.ok(pages.length < maxPages, 'pagination did not end');
    const res = await c.fetch(next);
    assert.equal(res.status, 200, next);
    const body = (await res.json()) as Record<string, string[]>;
    pages.push(body[key]!);
    next = nextLink(res);
  }
  return pages;
}

const sorted = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('tags list', () => {
  const h = useTestRegistry();
  const tags = ['v2', 'V1', 'latest', '1.0', 'alpha_', 'a-b', 'a.b', 'Z', '_x', 'b'];
  before(async () => {
    const image = await h.client.pushImage('tags/app', tags[0]!, ociImage({ layers: 1 }));
    for (const t of tags.slice(1)) assert.equal((await h.client.pushManifest('tags/app', t, image.manifest, image.mediaType)).status, 201);
  });

  it('lists every tag in lexical (code unit) order with the repository name', async () => {
    const res = await h.client.fetch('/v2/tags/app/tags/list');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('link'), null);
    assert.deepEqual(await res.json(), { name: 'tags/app', tags: sorted(tags) });
  });

  it('returns the first n tags and a Link to the next page', async () => {
    const res = await h.client.fetch('/v2/tags/app/tags/list?n=3');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { tags: string[] };
    assert.deepEqual(body.tags, sorted(tags).slice(0, 3));
    const link = nextLink(res);
    assert.ok(link, 'no Link header although more tags exist');
    const url = new URL(link, h.registry.url);
    assert.equal(url.pathname, '/v2/tags/app/tags/list');
    assert.equal(url.searchParams.get('n'), '3');
    assert.equal(url.searchParams.get('last'), body.tags[2]);
  });

  it('walks all tags by following Link headers, each page at most n', async () => {
    const pages = await walk(h.client, '/v2/tags/app/tags/list?n=3', 'tags');
    assert.equal(pages.length, Math.ceil(tags.length / 3));
    for (const page of pages) assert.ok(page.length <= 3);
    assert.deepEqual(pages.flat(), sorted(tags));
  });

  it('returns the tags after last', async () => {
    const all = sorted(tags);
    const res = await h.client.fetch(`/v2/tags/app/tags/list?last=${encodeURIComponent(all[4]!)}`);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, all.slice(5));
    const both = await h.client.fetch(`/v2/tags/app/tags/list?n=2&last=${encodeURIComponent(all[4]!)}`);
    assert.deepEqual(((await both.json()) as { tags: string[] }).tags, all.slice(5, 7));
  });

  it('returns tags after a last that is not itself a tag', async () => {
    const res = await h.client.fetch('/v2/tags/app/tags/list?last=b0');
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, sorted(tags).filter((t) => t > 'b0'));
  });

  it('returns an empty list and no Link for n=0', async () => {
    const res = await h.client.fetch('/v2/tags/app/tags/list?n=0');
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, []);
    assert.equal(res.headers.get('link'), null);
  });

  it('sends no Link when n covers the remaining tags', async () => {
    for (const n of [tags.length, tags.length + 5]) {
      const res = await h.client.fetch(`/v2/tags/app/tags/list?n=${n}`);
      assert.equal(((await res.json()) as { tags: string[] }).tags.length, tags.length);
      assert.equal(res.headers.get('link'), null, `n=${n}`);
    }
  });

  it('refuses a malformed n with a 400 error body', async () => {
    for (const n of ['-1', 'abc', '1.5', '']) {
      const res = await h.client.fetch(`/v2/tags/app/tags/list?n=${n}`);
      assert.equal(res.status, 400, `n=${n}`);
      assertErrorBody(await res.json(), `n=${n}`);
    }
  });

  it('answers an unknown repository with 404 NAME_UNKNOWN', async () => {
    await expectError(await h.client.fetch('/v2/tags/unknown/tags/list'), 404, 'NAME_UNKNOWN');
  });

  it('answers 404 NAME_UNKNOWN for a path prefix of a repository, which is no repository', async () => {
    // Only "tags/app" exists; "tags" is a directory on disk but not a repository.
    await expectError(await h.client.fetch('/v2/tags/tags/list'), 404, 'NAME_UNKNOWN');
  });

  it('lists a repository whose tags were all deleted as empty', async () => {
    const image = await h.client.pushImage('tags/emptied', 'only', ociImage({ layers: 1 }));
    assert.equal((await h.client.fetch('/v2/tags/emptied/manifests/only', { method: 'DELETE' })).status, 202);
    const res = await h.client.fetch('/v2/tags/emptied/tags/list');
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, []);
    assert.equal((await h.client.fetch(`/v2/tags/emptied/manifests/${image.digest}`, { method: 'HEAD' })).status, 200);
  });
});

describe('catalog', () => {
  const h = useTestRegistry();
  const names = ['zeta', 'alpha/one', 'alpha/two', 'alpha/one/deep', 'b-c', 'b.c', 'b_c', 'mid/x'];
  before(async () => {
    for (const name of names) await h.client.pushImage(name, 'v1', ociImage({ layers: 1 }));
    await h.client.startUpload('only/an/upload'); // not a repository yet
  });

  it('lists every repository in lexical order, without path prefixes or upload-only names', async () => {
    const res = await h.client.fetch('/v2/_catalog');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('link'), null);
    assert.deepEqual(await res.json(), { repositories: sorted(names) });
  });

  it('returns the first n repositories and a Link to the next page', async () => {
    const res = await h.client.fetch('/v2/_catalog?n=3');
    const body = (await res.json()) as { repositories: string[] };
    assert.deepEqual(body.repositories, sorted(names).slice(0, 3));
    const link = nextLink(res);
    assert.ok(link);
    const url = new URL(link, h.registry.url);
    assert.equal(url.pathname, '/v2/_catalog');
    assert.equal(url.searchParams.get('n'), '3');
    assert.equal(url.searchParams.get('last'), body.repositories[2]);
  });

  it('walks the whole catalog by following Link headers', async () => {
    const pages = await walk(h.client, '/v2/_catalog?n=3', 'repositories');
    for (const page of pages) assert.ok(page.length <= 3);
    assert.deepEqual(pages.flat(), sorted(names));
  });

  it('returns the repositories after last', async () => {
    const res = await h.client.fetch('/v2/_catalog?last=alpha/two');
    assert.deepEqual(((await res.json()) as { repositories: string[] }).repositories, sorted(names).filter((n) => n > 'alpha/two'));
  });

  it('returns an empty list and no Link for n=0 and for a last after every name', async () => {
    for (const q of ['n=0', 'last=zzz', 'n=2&last=zzz']) {
      const res = await h.client.fetch(`/v2/_catalog?${q}`);
      assert.equal(res.status, 200, q);
      assert.deepEqual(((await res.json()) as { repositories: string[] }).repositories, [], q);
      assert.equal(res.headers.get('link'), null, q);
    }
  });

  it('refuses a malformed n with a 400 error body', async () => {
    const res = await h.client.fetch('/v2/_catalog?n=x');
    assert.equal(res.status, 400);
    assertErrorBody(await res.json(), 'catalog n=x');
  });
});
