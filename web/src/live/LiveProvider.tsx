import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import { useAuth } from '../auth/AuthContext';
import { applyLiveEvent } from './cache';
import { LiveStream, type StreamStatus } from './stream';

const Ctx = createContext<StreamStatus>('idle');

/** Keeps one SSE stream open while signed in and feeds it into the query cache. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const { status } = useAuth();
  const [streamStatus, setStreamStatus] = useState<StreamStatus>('idle');

  useEffect(() => {
    if (status !== 'authenticated' || typeof EventSource === 'undefined') return;
    const stream = new LiveStream({
      getTicket: async () => (await api.streamTicket()).ticket,
      onMessage: (type, data) => applyLiveEvent(qc, type, data),
      onStatus: setStreamStatus,
      // Anything may have changed while we were away.
      onReconnect: () => void qc.invalidateQueries(),
    });
    stream.start();
    return () => stream.stop();
  }, [status, qc]);

  return <Ctx.Provider value={streamStatus}>{children}</Ctx.Provider>;
}

export function useLiveStatus(): StreamStatus {
  return useContext(Ctx);
}
