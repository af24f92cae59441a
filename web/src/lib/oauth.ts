// The OAuth round trip leaves the app (provider pages) and comes back to
// /connections?oauth=ok&connection=<id> or ?oauth=error&message=<text>
// (docs/oauth.md). A reconnect remembers, for this tab, which connection
// the new one replaces, so the old one can be removed on return.

const KEY = 'tc.oauth.replaces';

export type OAuthOutcome = { ok: true; connection: string | null } | { ok: false; message: string };

export function readOAuthOutcome(params: URLSearchParams): OAuthOutcome | null {
  const o = params.get('oauth');
  if (o === 'ok') return { ok: true, connection: params.get('connection') };
  if (o === 'error') return { ok: false, message: params.get('message') || 'The connection was not completed.' };
  return null;
}

export function rememberReplaced(c: { id: string; connector: string }, storage: Storage | null = sessionStorageOrNull()): void {
  try {
    storage?.setItem(KEY, JSON.stringify({ id: c.id, connector: c.connector, at: Date.now() }));
  } catch {
    /* storage off: the old connection stays, the user can disconnect it */
  }
}

/** The remembered connection (at most 15 minutes old), removed from storage. */
export function takeReplaced(storage: Storage | null = sessionStorageOrNull(), now = Date.now()): { id: string; connector: string } | null {
  try {
    const raw = storage?.getItem(KEY);
    storage?.removeItem(KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as { id?: unknown; connector?: unknown; at?: unknown };
    if (typeof v.id !== 'string' || typeof v.connector !== 'string' || typeof v.at !== 'number' || now - v.at > 15 * 60_000) return null;
    return { id: v.id, connector: v.connector };
  } catch {
    return null;
  }
}

function sessionStorageOrNull(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}
