import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createBrowserRouter, RouterProvider, type RouteObject } from 'react-router';
import { ApiError } from './api/client';
import { AuthProvider } from './auth/AuthContext';
import { LiveProvider } from './live/LiveProvider';
import { ToastProvider } from './components/toast';
import { AppLayout, PublicLayout } from './components/Layout';
import { RouteError } from './pages/RouteError';
import './index.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: true,
      // Client errors (4xx) will not fix themselves by retrying.
      retry: (n, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && n < 2,
    },
  },
});

type Mod = { default: React.ComponentType };
const page = (load: () => Promise<Mod>): Pick<RouteObject, 'lazy'> => ({
  lazy: async () => ({ Component: (await load()).default }),
});

const routes: RouteObject[] = [
  {
    element: <PublicLayout />,
    errorElement: <RouteError />,
    children: [
      { path: '/', ...page(() => import('./pages/Landing')) },
      { path: '/login', ...page(() => import('./pages/Login')) },
      { path: '/signup', ...page(() => import('./pages/Signup')) },
    ],
  },
  {
    element: <AppLayout />,
    errorElement: <RouteError />,
    children: [
      { path: '/connectors', ...page(() => import('./pages/Connectors')) },
      { path: '/connectors/:slug', ...page(() => import('./pages/ConnectorDetail')) },
      { path: '/connections', ...page(() => import('./pages/Connections')) },
      { path: '/dashboard', ...page(() => import('./pages/Dashboard')) },
      { path: '/dashboard/jobs/:id', ...page(() => import('./pages/JobDetail')) },
      { path: '/scheduler', ...page(() => import('./pages/Scheduler')) },
      { path: '/webhooks', ...page(() => import('./pages/Webhooks')) },
      { path: '/settings/notifications', ...page(() => import('./pages/NotificationSettings')) },
      { path: '/settings/security', ...page(() => import('./pages/SecuritySettings')) },
      { path: '*', ...page(() => import('./pages/NotFound')) },
    ],
  },
];

const router = createBrowserRouter(routes);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <AuthProvider>
          <LiveProvider>
            <RouterProvider router={router} />
          </LiveProvider>
        </AuthProvider>
      </ToastProvider>
    </QueryClientProvider>
  </StrictMode>,
);
