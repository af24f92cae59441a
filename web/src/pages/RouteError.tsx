import { Link, useRouteError } from 'react-router';

export function RouteError() {
  const err = useRouteError() as Error | undefined;
  return (
    <div role="alert" className="mx-auto max-w-lg px-4 py-16 text-center">
      <h1 className="text-xl font-semibold text-slate-900">Something went wrong</h1>
      <p className="mt-2 text-sm text-slate-600">{err?.message ?? 'The page failed to load.'}</p>
      <div className="mt-6 flex justify-center gap-3">
        <button type="button" className="rounded-md bg-indigo-600 px-3.5 py-2 text-sm font-medium text-white" onClick={() => location.reload()}>
          Reload
        </button>
        <Link to="/" className="rounded-md px-3.5 py-2 text-sm font-medium text-slate-700 ring-1 ring-slate-300">
          Home
        </Link>
      </div>
    </div>
  );
}
