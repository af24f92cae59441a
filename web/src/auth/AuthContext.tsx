import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, client, tokens } from '../api';
import type { AuthResponse, User } from '../api/types';

type Status = 'loading' | 'authenticated' | 'anonymous';

interface AuthState {
  status: Status;
  user: User | null;
  /** Why the last session ended on its own (expired/refused), for the login page. */
  endedReason: string | null;
  login: (email: string, password: string) => Promise<void>;
  signup: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const Ctx = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [status, setStatus] = useState<Status>(tokens.refreshToken ? 'loading' : 'anonymous');
  const [user, setUser] = useState<User | null>(null);
  const [endedReason, setEndedReason] = useState<string | null>(null);

  // Restore a session from the refresh token kept for this tab.
  useEffect(() => {
    if (!tokens.refreshToken) return;
    let live = true;
    (async () => {
      const ok = await client.refresh();
      if (!ok) {
        tokens.clear();
        if (live) setStatus('anonymous');
        return;
      }
      try {
        const me = await api.me();
        if (!live) return;
        setUser(me);
        setStatus('authenticated');
      } catch {
        if (live) setStatus('anonymous');
      }
    })();
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    client.setSessionEndHandler(() => {
      setUser(null);
      setStatus('anonymous');
      setEndedReason('Your session has ended. Please log in again.');
      qc.clear();
    });
  }, [qc]);

  const accept = useCallback((r: AuthResponse) => {
    tokens.set(r.access_token, r.refresh_token);
    setUser(r.user);
    setEndedReason(null);
    setStatus('authenticated');
  }, []);

  const login = useCallback(async (email: string, password: string) => accept(await api.login(email, password)), [accept]);
  const signup = useCallback(async (email: string, password: string) => accept(await api.signup(email, password)), [accept]);
  const logout = useCallback(async () => {
    try {
      await api.logout();
    } catch {
      /* the local session ends regardless */
    }
    tokens.clear();
    setUser(null);
    setStatus('anonymous');
    qc.clear();
  }, [qc]);

  const value = useMemo(() => ({ status, user, endedReason, login, signup, logout }), [status, user, endedReason, login, signup, logout]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}
