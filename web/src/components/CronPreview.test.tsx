import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { browserLocal, CronPreview } from './CronPreview';

function wrap(ui: React.ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={qc}>{ui}</QueryClientProvider>);
}

describe('CronPreview', () => {
  it('shows the next runs in local time', async () => {
    const preview = vi.fn(async () => ({ next: [{ utc: '2030-01-07T09:00:00Z', local: '2030-01-07T10:00:00+01:00' }, { utc: '2030-01-08T09:00:00Z', local: '2030-01-08T10:00:00+01:00' }] }));
    wrap(<CronPreview cron="0 10 * * 1-5" timezone="Europe/Paris" preview={preview} debounceMs={0} />);
    const box = await screen.findByTestId('cron-preview');
    expect(preview).toHaveBeenCalledWith('0 10 * * 1-5', 'Europe/Paris', 5);
    const times = box.querySelectorAll('time');
    expect(times.length).toBe(2);
    expect(times[0].getAttribute('dateTime')).toBe('2030-01-07T09:00:00Z');
    expect(times[0].textContent).toBe(browserLocal('2030-01-07T09:00:00Z'));
    // The schedule's own zone differs from the test's (UTC): its local time is shown too.
    expect(box.textContent).toContain('2030-01-07T10:00:00+01:00 Europe/Paris');
  });

  it('shows the server error with a caret at the position', async () => {
    const preview = vi.fn(async () => {
      throw new ApiError(422, 'validation_failed', 'minute: 61 is out of range (0-59)', { field: 'cron', raw: { position: 0, cron_field: 'minute' } });
    });
    wrap(<CronPreview cron="61 * * * *" timezone="UTC" preview={preview} debounceMs={0} />);
    const err = await screen.findByTestId('cron-error');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toContain('61 is out of range');
    expect(err.querySelector('pre')?.textContent).toBe('61 * * * *\n^');
  });

  it('asks for nothing while the expression is empty', () => {
    const preview = vi.fn();
    wrap(<CronPreview cron="  " timezone="UTC" preview={preview} debounceMs={0} />);
    expect(screen.getByText(/Enter a cron expression/)).toBeTruthy();
    expect(preview).not.toHaveBeenCalled();
  });
});
