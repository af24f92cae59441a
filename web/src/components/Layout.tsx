import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Navigate, Outlet, useLocation, useNavigation } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { useLiveStatus } from '../live/LiveProvider';
import { cx, Loading } from './ui';

const nav = [
  { to: '/dashboard', label: 'Dashboard' },
  { to: '/connectors', label: 'Connectors' },
  { to: '/connections', label: 'Connections' },
  { to: '/scheduler', label: 'Scheduler' },
  { to: '/webhooks', label: 'Webhooks' },
  { to: '/settings/security', label: 'Settings' },
];

export function Logo() {
  return (
    <Link to="/" className="flex shrink-0 items-center gap-2 font-semibold whitespace-nowrap text-slate-900">
      <img src="/favicon.svg" alt="" className="h-7 w-7" />
      <span>Tool Connect Craft</span>
    </Link>
  );
}

function LiveDot() {
  const s = useLiveStatus();
  const label = s === 'open' ? 'Live' : s === 'connecting' ? 'Connecting' : s === 'retrying' ? 'Reconnecting' : 'Offline';
  return (
    <span role="status" className="inline-flex items-center gap-1.5 text-xs text-slate-500" title={`Live updates: ${label}`} data-testid="live-status" data-status={s}>
      <span aria-hidden="true" className={cx('h-2 w-2 rounded-full', s === 'open' ? 'bg-emerald-500' : s === 'retrying' ? 'bg-amber-500' : 'bg-slate-300')} />
      <span className="sr-only sm:not-sr-only">{label}</span>
    </span>
  );
}

function RouteProgress() {
  const n = useNavigation();
  if (n.state === 'idle') return null;
  return <div className="fixed inset-x-0 top-0 z-50 h-0.5 animate-pulse bg-indigo-500" role="progressbar" aria-label="Loading page" />;
}

/** Moves focus to the main heading after navigation, for screen readers and keyboards. */
function useFocusOnNavigate() {
  const loc = useLocation();
  const ref = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    ref.current?.focus({ preventScroll: true });
  }, [loc.pathname]);
  return ref;
}

export function AppLayout() {
  const { status, user, logout } = useAuth();
  const loc = useLocation();
  const [open, setOpen] = useState(false);
  const mainRef = useFocusOnNavigate();
  useEffect(() => setOpen(false), [loc.pathname]);

  if (status === 'loading') return <Loading label="Restoring your session…" />;
  if (status === 'anonymous') return <Navigate to={`/login?next=${encodeURIComponent(loc.pathname + loc.search)}`} replace />;

  return (
    <div className="min-h-screen">
      <RouteProgress />
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-slate-200 bg-white/95 backdrop-blur">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-4 px-4 sm:px-6">
          <Logo />
          <nav aria-label="Main" className="ml-4 hidden flex-1 items-center gap-0.5 lg:flex">
            {nav.map((n) => (
              <NavLink key={n.to} to={n.to} className={({ isActive }) => cx('rounded-md px-3 py-1.5 text-sm font-medium', isActive ? 'bg-indigo-50 text-indigo-700' : 'text-slate-600 hover:bg-slate-100 hover:text-slate-900')}>
                {n.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-3">
            <LiveDot />
            <span className="hidden max-w-56 truncate text-sm text-slate-600 2xl:inline" data-testid="user-email">
              {user?.email}
            </span>
            <button type="button" onClick={() => void logout()} className="hidden rounded-md px-2.5 py-1.5 text-sm font-medium whitespace-nowrap text-slate-600 hover:bg-slate-100 lg:inline">
              Log out
            </button>
            <button type="button" className="rounded-md p-2 text-slate-600 hover:bg-slate-100 lg:hidden" aria-expanded={open} aria-controls="mobile-nav" aria-label="Menu" onClick={() => setOpen((o) => !o)}>
              <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
                {open ? <path d="M6 6l12 12M18 6L6 18" /> : <path d="M4 7h16M4 12h16M4 17h16" />}
              </svg>
            </button>
          </div>
        </div>
        {open && (
          <nav id="mobile-nav" aria-label="Main" className="border-t border-slate-200 px-4 py-2 lg:hidden">
            {nav.map((n) => (
              <NavLink key={n.to} to={n.to} className={({ isActive }) => cx('block rounded-md px-3 py-2 text-sm font-medium', isActive ? 'bg-indigo-50 text-indigo-700' : 'text-slate-700 hover:bg-slate-100')}>
                {n.label}
              </NavLink>
            ))}
            <div className="mt-2 flex items-center justify-between border-t border-slate-100 px-3 pt-3 pb-1 text-sm">
              <span className="truncate text-slate-500">{user?.email}</span>
              <button type="button" onClick={() => void logout()} className="font-medium text-slate-700">
                Log out
              </button>
            </div>
          </nav>
        )}
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="mx-auto max-w-7xl px-4 py-6 outline-none sm:px-6 sm:py-8">
        <Outlet />
      </main>
    </div>
  );
}

export function PublicLayout() {
  return (
    <div className="flex min-h-screen flex-col">
      <RouteProgress />
      <Outlet />
    </div>
  );
}

export function SettingsTabs() {
  const tabs = [
    { to: '/settings/security', label: 'Security' },
    { to: '/settings/notifications', label: 'Notifications' },
  ];
  return (
    <nav aria-label="Settings" className="mb-6 flex gap-1 border-b border-slate-200">
      {tabs.map((t) => (
        <NavLink key={t.to} to={t.to} className={({ isActive }) => cx('-mb-px border-b-2 px-3 py-2 text-sm font-medium', isActive ? 'border-indigo-600 text-indigo-700' : 'border-transparent text-slate-600 hover:text-slate-900')}>
          {t.label}
        </NavLink>
      ))}
    </nav>
  );
}
