import express, { type Request, type Response, type Router } from 'express';
import { basicCredentials } from '../../auth/password-check.ts';
import type { TokenGrant, TokenService } from '../../auth/token-service.ts';
import { RegistryError } from '../../oci/errors.ts';
import { contextOf } from '../request-context.ts';

const MAX_FORM_BYTES = 16 * 1024;

/**
 * The built-in token service, as Docker's token spec and its OAuth2 form describe it:
 * `GET /auth/token` with optional Basic credentials (docker, skopeo, podman), and
 * `POST /auth/token` with a password or refresh-token grant (docker login, containerd).
 * `GET /auth/jwks.json` publishes the verification key.
 */
export function registerTokenRoutes(router: Router, tokens: TokenService): void {
  router.get('/auth/token', async (req, res) => {
    const authorization = req.headers.authorization;
    let grant: TokenGrant = { kind: 'anonymous' };
    if (authorization !== undefined) {
      const credentials = basicCredentials(authorization);
      if (!credentials) throw badRequest('the token endpoint takes HTTP Basic credentials, or none for anonymous access');
      grant = { kind: 'password', ...credentials };
    }
    const issued = await tokens.issue({
      grant,
      service: single(req.query.service, 'service'),
      scopes: list(req.query.scope),
      offline: single(req.query.offline_token, 'offline_token') === 'true',
      clientAddr: contextOf(res).clientIp,
    });
    answer(res, issued);
  });

  router.post('/auth/token', express.urlencoded({ extended: false, limit: MAX_FORM_BYTES }), async (req, res) => {
    const form = formOf(req);
    const grantType = form.grant_type;
    let grant: TokenGrant;
    if (grantType === 'password') {
      if (!form.username || form.password === undefined) throw badRequest('grant_type=password needs username and password');
      grant = { kind: 'password', user: form.username, password: form.password };
    } else if (grantType === 'refresh_token') {
      if (!form.refresh_token) throw badRequest('grant_type=refresh_token needs refresh_token');
      grant = { kind: 'refresh', refreshToken: form.refresh_token };
    } else {
      throw badRequest('grant_type must be "password" or "refresh_token"');
    }
    const issued = await tokens.issue({
      grant,
      service: form.service,
      scopes: form.scope === undefined ? [] : [form.scope],
      offline: form.access_type === 'offline',
      clientAddr: contextOf(res).clientIp,
    });
    answer(res, issued);
  });

  router.get('/auth/jwks.json', async (_req, res) => {
    res.json(await tokens.jwks());
  });
}

function answer(res: Response, body: object): void {
  res.setHeader('Cache-Control', 'no-store');
  res.json(body);
}

/** The form fields given once each; a repeated field is refused. */
function formOf(req: Request): Record<string, string | undefined> {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) throw badRequest('the body must be application/x-www-form-urlencoded');
  const form: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) form[key] = single(value, key);
  return form;
}

function single(value: unknown, key: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw badRequest(`parameter "${key}" must be given once`, { parameter: key });
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

function badRequest(message: string, detail: Record<string, unknown> = { endpoint: '/auth/token' }): RegistryError {
  return new RegistryError('UNSUPPORTED', message, { status: 400, detail });
}
