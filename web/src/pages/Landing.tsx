import { Link } from 'react-router';
import { Logo } from '../components/Layout';
import { useAuth } from '../auth/AuthContext';

const features = [
  { title: 'Connect anything', text: 'MCP servers over HTTP or stdio, REST APIs, API keys and OAuth: one catalog, credentials encrypted at rest.' },
  { title: 'Run tools, live', text: 'Every tool gets a form from its JSON Schema. Watch each job move from queued to done as it happens.' },
  { title: 'Schedule it', text: 'Cron schedules with time zones, overlap and misfire rules, and a preview of the next runs in your local time.' },
  { title: 'Hear about it', text: 'Signed webhooks with retries and delivery history, health checks and email alerts when something breaks.' },
];

export default function Landing() {
  const { status } = useAuth();
  const authed = status === 'authenticated';
  return (
    <div className="flex min-h-screen flex-col bg-white">
      <header className="mx-auto flex w-full max-w-6xl items-center justify-between px-4 py-4 sm:px-6">
        <Logo />
        <nav aria-label="Account" className="flex items-center gap-2">
          {authed ? (
            <Link to="/dashboard" className="rounded-md bg-indigo-600 px-3.5 py-2 text-sm font-medium text-white hover:bg-indigo-500">
              Open dashboard
            </Link>
          ) : (
            <>
              <Link to="/login" className="rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100">
                Log in
              </Link>
              <Link to="/signup" className="rounded-md bg-indigo-600 px-3.5 py-2 text-sm font-medium text-white hover:bg-indigo-500">
                Sign up
              </Link>
            </>
          )}
        </nav>
      </header>
      <main className="flex-1">
        <section className="mx-auto max-w-6xl px-4 pt-12 pb-16 sm:px-6 sm:pt-20">
          <p className="text-sm font-semibold tracking-wide text-indigo-600 uppercase">Self-hosted integration platform</p>
          <h1 className="mt-3 max-w-3xl text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">Connect your tools. Run them anywhere. Watch every job live.</h1>
          <p className="mt-5 max-w-2xl text-lg leading-8 text-slate-600">
            Tool Connect Craft brings your APIs and MCP servers into one place: connect them once, run their tools from a form or an API key, put them on a schedule, and get a signed webhook when
            anything happens.
          </p>
          <div className="mt-8 flex flex-wrap gap-3">
            <Link to={authed ? '/dashboard' : '/signup'} className="rounded-md bg-indigo-600 px-5 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
              {authed ? 'Go to the dashboard' : 'Create your account'}
            </Link>
            {!authed && (
              <Link to="/login" className="rounded-md px-5 py-2.5 text-sm font-semibold text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50">
                I already have one
              </Link>
            )}
          </div>
        </section>
        <section aria-labelledby="features" className="border-t border-slate-100 bg-slate-50">
          <div className="mx-auto max-w-6xl px-4 py-14 sm:px-6">
            <h2 id="features" className="sr-only">
              Features
            </h2>
            <ul className="grid gap-6 sm:grid-cols-2 lg:grid-cols-4">
              {features.map((f) => (
                <li key={f.title} className="rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200">
                  <h3 className="font-semibold text-slate-900">{f.title}</h3>
                  <p className="mt-2 text-sm leading-6 text-slate-600">{f.text}</p>
                </li>
              ))}
            </ul>
          </div>
        </section>
      </main>
      <footer className="border-t border-slate-100 py-6 text-center text-xs text-slate-500">Tool Connect Craft · runs on your own server</footer>
    </div>
  );
}
