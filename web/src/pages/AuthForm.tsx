import { useRef, useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { Logo } from '../components/Layout';
import { Button, FormError, TextField } from '../components/ui';
import { fieldErrors } from '../lib/formErrors';

/** The shared log-in / sign-up form. */
export function AuthForm({ mode }: { mode: 'login' | 'signup' }) {
  const { status, login, signup, endedReason } = useAuth();
  const nav = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);
  const next = params.get('next') || '/dashboard';
  const safeNext = next.startsWith('/') && !next.startsWith('//') ? next : '/dashboard';

  if (status === 'authenticated' && !busy) return <Navigate to={safeNext} replace />;

  const errs = fieldErrors(error);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (mode === 'login' ? login(email, password) : signup(email, password));
      nav(safeNext, { replace: true });
    } catch (err) {
      setError(err);
      const f = fieldErrors(err);
      if (f.password) passRef.current?.focus();
      else emailRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  const isLogin = mode === 'login';
  const general = error && !errs.email && !errs.password ? error : null;

  return (
    <div className="flex min-h-screen flex-col items-center justify-center bg-slate-50 px-4 py-12">
      <div className="mb-8">
        <Logo />
      </div>
      <div className="w-full max-w-sm rounded-xl bg-white p-6 shadow-sm ring-1 ring-slate-200 sm:p-8">
        <h1 className="text-xl font-semibold text-slate-900">{isLogin ? 'Log in' : 'Create your account'}</h1>
        <p className="mt-1 text-sm text-slate-600">{isLogin ? 'Welcome back.' : 'It takes ten seconds.'}</p>
        {isLogin && endedReason && !error && (
          <p role="status" className="mt-4 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-800 ring-1 ring-amber-200">
            {endedReason}
          </p>
        )}
        <form className="mt-6 space-y-4" onSubmit={onSubmit} noValidate>
          <FormError error={general} />
          <TextField ref={emailRef} label="Email" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={errs.email} autoFocus />
          <TextField
            ref={passRef}
            label="Password"
            type="password"
            name="password"
            autoComplete={isLogin ? 'current-password' : 'new-password'}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={errs.password}
            hint={isLogin ? undefined : 'Use a long passphrase; the server tells you if it is too weak.'}
          />
          <Button type="submit" busy={busy} className="w-full">
            {isLogin ? 'Log in' : 'Sign up'}
          </Button>
        </form>
      </div>
      <p className="mt-6 text-sm text-slate-600">
        {isLogin ? 'New here? ' : 'Already have an account? '}
        <Link to={isLogin ? '/signup' : '/login'} className="font-medium text-indigo-600 hover:text-indigo-500">
          {isLogin ? 'Create an account' : 'Log in'}
        </Link>
      </p>
    </div>
  );
}
