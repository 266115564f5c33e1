import type { AccessRuleConfig } from '../config/auth.ts';
import { globToRegExp } from '../oci/glob.ts';
import type { Identity } from './identity.ts';
import { CATALOG_SCOPE, REPOSITORY_ACTIONS, type Scope } from './scope.ts';

/** The account name rules use for a caller without credentials. */
export const ANONYMOUS = 'anonymous';

interface CompiledRule {
  account: string;
  repositories: RegExp[];
  actions: Set<string>;
}

/**
 * Who may do what, from the configuration's `access` and `admins`. A rule applies to its named
 * account, `*` to every authenticated account, and `anonymous` to everyone (an authenticated
 * user may always do what an anonymous one may). Admins get the operator API and the catalog.
 * With no rules at all (`access` absent), every authenticated account may do everything.
 */
export class AccessRules {
  private readonly rules: CompiledRule[] | null;
  private readonly admins: Set<string>;

  constructor(rules: readonly AccessRuleConfig[] | undefined, admins: readonly string[]) {
    this.admins = new Set(admins);
    this.rules = rules
      ? rules.map((r) => ({
          account: r.account,
          repositories: r.repositories.map(globToRegExp),
          actions: new Set(r.actions.includes('*') ? REPOSITORY_ACTIONS : r.actions),
        }))
      : null;
  }

  /** The identity of `account` (null: anonymous), as the registry checks requests against it. */
  identity(account: string | null): Identity {
    const everything = account !== null && this.rules === null;
    const isAdmin = account !== null && this.admins.has(account);
    return {
      name: account ?? undefined,
      authenticated: account !== null,
      unrestricted: everything,
      may: (type, name, action) => {
        if (type === 'registry') return isAdmin || (everything && name === CATALOG_SCOPE.name);
        return everything || this.allows(account, type, name, action);
      },
    };
  }

  /** What the token service grants: the part of `requested` these rules allow, nothing more. */
  grant(account: string | null, requested: readonly Scope[]): Scope[] {
    const identity = this.identity(account);
    const granted: Scope[] = [];
    for (const scope of requested) {
      const wanted = scope.type === 'repository' && scope.actions.includes('*') ? [...REPOSITORY_ACTIONS] : scope.actions;
      const actions = [...new Set(wanted)].filter((action) => identity.may(scope.type, scope.name, action));
      if (actions.length > 0) granted.push({ type: scope.type, name: scope.name, actions });
    }
    return granted;
  }

  /** A repository rule allows it (`registry:*` resources are decided by `admins` alone). */
  private allows(account: string | null, type: string, name: string, action: string): boolean {
    if (type !== 'repository' || this.rules === null) return false;
    return this.rules.some(
      (rule) =>
        (rule.account === ANONYMOUS || (account !== null && (rule.account === '*' || rule.account === account))) &&
        rule.actions.has(action) &&
        rule.repositories.some((re) => re.test(name)),
    );
  }
}
