import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessRules } from '../../src/auth/access-rules.ts';
import { formatScope, parseScope } from '../../src/auth/scope.ts';

describe('scopes', () => {
  it('parses the forms of the Docker token spec, names with colons included', () => {
    assert.deepEqual(parseScope('repository:team/app:pull,push'), { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository:localhost:5000/app:pull'), { type: 'repository', name: 'localhost:5000/app', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.deepEqual(parseScope('repository(plugin):vieux/app:pull'), { type: 'repository', name: 'vieux/app', actions: ['pull'] });
  });

  it('refuses malformed scopes', () => {
    for (const text of ['', 'repository', 'repository:app', ':app:pull', 'repository::pull', 'repository:app:']) {
      assert.equal(parseScope(text), null, JSON.stringify(text));
    }
  });

  it('formats a scope as it parses', () => {
    const text = 'repository:team/app:pull,push';
    assert.equal(formatScope(parseScope(text)!), text);
  });
});

describe('access rules', () => {
  const rules = new AccessRules(
    [
      { account: 'alice', repositories: ['team/**'], actions: ['*'] },
      { account: 'bob', repositories: ['team/*'], actions: ['pull'] },
      { account: '*', repositories: ['shared/*'], actions: ['pull', 'push'] },
      { account: 'anonymous', repositories: ['public/*'], actions: ['pull'] },
    ],
    ['alice'],
  );
  const scope = (text: string) => parseScope(text)!;

  it('grants the part of the request the rules allow, and nothing more', () => {
    assert.deepEqual(rules.grant('bob', [scope('repository:team/app:pull,push,delete'), scope('repository:other/x:pull')]), [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
    assert.deepEqual(rules.grant('alice', [scope('repository:team/a/b:*')]), [{ type: 'repository', name: 'team/a/b', actions: ['pull', 'push', 'delete'] }]);
  });

  it('matches * within one path component and ** across components', () => {
    assert.equal(rules.identity('bob').may('repository', 'team/app', 'pull'), true);
    assert.equal(rules.identity('bob').may('repository', 'team/app/sub', 'pull'), false);
    assert.equal(rules.identity('alice').may('repository', 'team/app/sub', 'delete'), true);
    assert.equal(rules.identity('alice').may('repository', 'teams/app', 'pull'), false);
  });

  it('applies * rules to every signed-in account but not to anonymous callers; anonymous rules to everyone', () => {
    assert.equal(rules.identity('carol').may('repository', 'shared/x', 'push'), true);
    assert.equal(rules.identity(null).may('repository', 'shared/x', 'pull'), false);
    assert.equal(rules.identity(null).may('repository', 'public/x', 'pull'), true);
    assert.equal(rules.identity(null).may('repository', 'public/x', 'push'), false);
    assert.equal(rules.identity('bob').may('repository', 'public/x', 'pull'), true);
  });

  it('gives the operator API and the catalog to admins only', () => {
    assert.deepEqual(rules.grant('alice', [scope('registry:admin:*'), scope('registry:catalog:*')]).map(formatScope), ['registry:admin:*', 'registry:catalog:*']);
    assert.deepEqual(rules.grant('bob', [scope('registry:admin:*'), scope('registry:catalog:*')]), []);
  });

  it('without rules, lets every signed-in account do everything but use the operator API (as Distribution)', () => {
    const open = new AccessRules(undefined, ['alice']);
    const carol = open.identity('carol');
    assert.equal(carol.may('repository', 'any/thing', 'delete'), true);
    assert.equal(carol.may('registry', 'catalog', '*'), true);
    assert.equal(carol.may('registry', 'admin', '*'), false);
    assert.equal(open.identity('alice').may('registry', 'admin', '*'), true);
    assert.equal(open.identity(null).may('repository', 'any/thing', 'pull'), false);
  });
});
